#!/usr/bin/env python3
"""Runs a boot command (tandem or QEMU with the guest console on stdout),
copies its output to LOG and stamps, in host seconds from the start, the
first line holding "TANDEM: init started" (boot to init) and the end of the
command (boot plus /init's command list). Prints one line:
  init <s> end <s>
Exit status 1 when the command fails or never prints the marker, or its
output lacks "TANDEM: commands done, failures 0".
Usage: timed_boot.py LOG COMMAND [ARGS...]"""
import subprocess
import sys
import time

log_path, cmd = sys.argv[1], sys.argv[2:]
start = time.time()
init_at = None
with open(log_path, "wb") as log:
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    for line in proc.stdout:
        log.write(line)
        if init_at is None and b"TANDEM: init started" in line:
            init_at = time.time() - start
    status = proc.wait()
end = time.time() - start
with open(log_path, "rb") as log:
    done = b"TANDEM: commands done, failures 0" in log.read()
if status != 0 or init_at is None or not done:
    sys.exit("timed_boot: %s: exit status %d, %s (log %s)" %
             (cmd[0], status, "no init marker" if init_at is None else
              "commands not all done" if not done else "failed", log_path))
print("init %.2f end %.2f" % (init_at, end))
