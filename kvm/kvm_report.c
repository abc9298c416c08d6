/* Failure reports of the KVM engine: exit names, the ring of last exits,
 * and the instruction at RIP, read through the guest's page tables (Intel
 * SDM Vol. 3, 4.3 32-bit paging, 4.4 PAE, 4.5 4-level paging) and
 * disassembled with capstone. */
#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kvm/kvm_priv.h"
#include "mem/system.h"
#include "sim/log.h"

const char *kvm_exit_name(uint32_t reason)
{
    static const char *const names[] = {
        [KVM_EXIT_UNKNOWN] = "UNKNOWN",
        [KVM_EXIT_EXCEPTION] = "EXCEPTION",
        [KVM_EXIT_IO] = "IO",
        [KVM_EXIT_HYPERCALL] = "HYPERCALL",
        [KVM_EXIT_DEBUG] = "DEBUG",
        [KVM_EXIT_HLT] = "HLT",
        [KVM_EXIT_MMIO] = "MMIO",
        [KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
        [KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
        [KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
        [KVM_EXIT_INTR] = "INTR",
        [KVM_EXIT_SET_TPR] = "SET_TPR",
        [KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
        [KVM_EXIT_NMI] = "NMI",
        [KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
        [KVM_EXIT_OSI] = "OSI",
        [KVM_EXIT_PAPR_HCALL] = "PAPR_HCALL",
        [KVM_EXIT_WATCHDOG] = "WATCHDOG",
        [KVM_EXIT_EPR] = "EPR",
        [KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
        [KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
        [KVM_EXIT_HYPERV] = "HYPERV",
        [KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
        [KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
        [KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
        [KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK",
        [KVM_EXIT_XEN] = "XEN",
        [KVM_EXIT_NOTIFY] = "NOTIFY",
    };
    if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
        return names[reason];
    return "not known to this build";
}

void kvm_report_exits(struct cpu *cpu)
{
    struct kvm_vcpu *v = kvm_vcpu_of(cpu);
    unsigned n = v->nexits < KVM_EXIT_RING ? v->nexits : KVM_EXIT_RING;
    log_error("%s: last %u KVM exits (oldest first, %u in total):", cpu->obj.path, n, v->nexits);
    for (unsigned i = v->nexits - n; i < v->nexits; i++) {
        const struct kvm_exit_record *r = &v->exits[i % KVM_EXIT_RING];
        log_error("  tick %" PRIu64 ": %s (%u) detail %#" PRIx64, r->tick, kvm_exit_name(r->reason),
                  r->reason, r->detail);
    }
}

static bool read_phys_u64(struct system *sys, uint64_t gpa, uint64_t *out)
{
    uint8_t *p = bus_ram_ptr(&sys->bus, gpa, 8);
    if (!p)
        return false;
    memcpy(out, p, 8);
    return true;
}

static bool read_phys_u32(struct system *sys, uint64_t gpa, uint32_t *out)
{
    uint8_t *p = bus_ram_ptr(&sys->bus, gpa, 4);
    if (!p)
        return false;
    memcpy(out, p, 4);
    return true;
}

#define PTE_P 1ull
#define PTE_PS (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull

/* Linear -> physical for the paging mode in st; false when not mapped. */
static bool translate(struct system *sys, const struct x86_state *st, uint64_t lin, uint64_t *pa)
{
    if (!(st->cr0 & X86_CR0_PG)) {
        *pa = lin;
        return true;
    }
    if (!(st->cr4 & X86_CR4_PAE)) { /* 32-bit paging, 4 MiB pages with PSE */
        uint32_t pde, pte;
        lin &= 0xffffffff;
        if (!read_phys_u32(sys, (st->cr3 & 0xfffff000) + ((lin >> 22) << 2), &pde) || !(pde & 1))
            return false;
        if ((pde & PTE_PS) && (st->cr4 & X86_CR4_PSE)) {
            *pa = ((uint64_t)(pde & 0xffc00000)) | (lin & 0x3fffff);
            return true;
        }
        if (!read_phys_u32(sys, (pde & 0xfffff000) + (((lin >> 12) & 0x3ff) << 2), &pte) ||
            !(pte & 1))
            return false;
        *pa = (pte & 0xfffff000) | (lin & 0xfff);
        return true;
    }
    uint64_t entry;
    int level;
    uint64_t table;
    if (st->msr.efer & X86_EFER_LMA) {
        level = 4;
        table = st->cr3 & PTE_ADDR;
    } else { /* PAE: 4 PDPTEs at CR3[31:5] */
        if (!read_phys_u64(sys, (st->cr3 & 0xffffffe0) + ((lin >> 30) & 3) * 8, &entry) ||
            !(entry & PTE_P))
            return false;
        level = 2;
        table = entry & PTE_ADDR;
    }
    for (; level >= 1; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        if (!read_phys_u64(sys, table + ((lin >> shift) & 0x1ff) * 8, &entry) || !(entry & PTE_P))
            return false;
        /* 1 GiB pages at level 3, 2 MiB pages at level 2. */
        if (level <= 3 && level >= 2 && (entry & PTE_PS)) {
            uint64_t page_mask = (1ull << shift) - 1;
            *pa = (entry & PTE_ADDR & ~page_mask) | (lin & page_mask);
            return true;
        }
        table = entry & PTE_ADDR;
    }
    *pa = table | (lin & 0xfff);
    return true;
}

size_t kvm_read_guest_linear(struct cpu *cpu, const struct x86_state *st, uint64_t linear,
                             uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        uint64_t pa;
        if (!translate(cpu->system, st, linear + done, &pa))
            break;
        size_t chunk = 4096 - ((linear + done) & 0xfff);
        if (chunk > len - done)
            chunk = len - done;
        uint8_t *p = bus_ram_ptr(&cpu->system->bus, pa, chunk);
        if (!p)
            break;
        memcpy(buf + done, p, chunk);
        done += chunk;
    }
    return done;
}

void kvm_report_instruction(struct cpu *cpu, const struct x86_state *st)
{
    const struct x86_segment *cs = &st->seg[S_CS];
    bool long64 = (st->msr.efer & X86_EFER_LMA) && cs->l;
    uint64_t linear = long64 ? st->rip : cs->base + st->rip;
    uint8_t bytes[16];
    size_t n = kvm_read_guest_linear(cpu, st, linear, bytes, sizeof(bytes));
    char hex[3 * sizeof(bytes) + 1] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 3 * i, 4, "%02x ", bytes[i]);
    log_error("  at rip %#" PRIx64 " (linear %#" PRIx64 ", CPL %u, %s mode): bytes %s%s",
              st->rip, linear, cs->dpl, long64 ? "64-bit" : cs->db ? "32-bit" : "16-bit", hex,
              n ? "" : "(not readable: page not mapped)");
    if (!n)
        return;
    csh handle;
    cs_mode mode = long64 ? CS_MODE_64 : cs->db ? CS_MODE_32 : CS_MODE_16;
    if (cs_open(CS_ARCH_X86, mode, &handle) != CS_ERR_OK) {
        log_error("  (capstone unavailable)");
        return;
    }
    cs_insn *insn;
    size_t count = cs_disasm(handle, bytes, n, st->rip, 1, &insn);
    if (count) {
        log_error("  instruction: %s %s", insn[0].mnemonic, insn[0].op_str);
        cs_free(insn, count);
    } else {
        log_error("  instruction: (capstone cannot decode these bytes)");
    }
    cs_close(&handle);
}
