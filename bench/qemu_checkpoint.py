#!/usr/bin/env python3
"""The peer of bench/checkpoint: QEMU (TCG) saves a paused guest's state with
`migrate "exec:cat > FILE"` and a second QEMU restores it with
`migrate-incoming "exec:cat FILE"`, both driven over QMP. The guest is the
same ELF bench_ckpt_fill wrote, loaded with -device loader, so both
simulators checkpoint the same memory. Prints one line:
  qemu save <ms> ms, restore <ms> ms, file <bytes> bytes
Times are host wall clock from the QMP command to the migration's end.
Usage: qemu_checkpoint.py FILL.elf RAM_MiB WORKDIR [REPS]"""
import json
import os
import socket
import statistics
import subprocess
import sys
import time


class Qemu:
    def __init__(self, elf, ram_mib, sock, extra):
        self.proc = subprocess.Popen(
            ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", str(ram_mib),
             "-display", "none", "-nodefaults", "-S",
             "-device", "loader,file=" + elf,
             "-qmp", "unix:" + sock + ",server=on,wait=off"] + extra,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(sock)
                break
            except OSError:
                self.sock.close()
                if self.proc.poll() is not None or time.time() > deadline:
                    sys.exit("qemu_checkpoint: QEMU did not start: " +
                             self.proc.stderr.read().decode(errors="replace"))
                time.sleep(0.05)
        self.reader = self.sock.makefile("r")
        self.reader.readline()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            reply = json.loads(self.reader.readline())
            if "event" in reply:
                continue
            if "error" in reply:
                sys.exit("qemu_checkpoint: %s: %s" % (name, reply["error"]))
            return reply["return"]

    def wait_migration(self):
        while True:
            status = self.cmd("query-migrate").get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                sys.exit("qemu_checkpoint: migration " + status)
            time.sleep(0.002)

    def quit(self):
        self.cmd("quit")
        self.proc.wait(timeout=60)


def main():
    elf, ram_mib, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    state = os.path.join(work, "qemu-state")
    sock = os.path.join(work, "qmp.sock")
    saves, restores = [], []
    for _ in range(reps):
        if os.path.exists(state):
            os.unlink(state)
        vm = Qemu(elf, ram_mib, sock, [])
        start = time.time()
        vm.cmd("migrate", uri="exec:cat > " + state)
        vm.wait_migration()
        saves.append((time.time() - start) * 1e3)
        vm.quit()
        vm = Qemu(elf, ram_mib, sock, ["-incoming", "defer"])
        start = time.time()
        vm.cmd("migrate-incoming", uri="exec:cat " + state)
        while vm.cmd("query-status")["status"] == "inmigrate":
            time.sleep(0.002)
        restores.append((time.time() - start) * 1e3)
        vm.quit()
    print("qemu save %.1f ms, restore %.1f ms, file %d bytes" %
          (statistics.median(saves), statistics.median(restores), os.path.getsize(state)))


main()
