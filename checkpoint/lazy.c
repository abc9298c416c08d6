/* Lazy restore through userfaultfd (lazy.h, docs/checkpoint.md).
 *
 * Why userfaultfd: guest RAM is read by the interpreter, by devices, by Lua
 * and, inside KVM_RUN, by the kernel on the vCPU's behalf; a missing-page
 * fault in any of them blocks the faulting thread until the loader places the
 * page, so no engine needs to know that a restore is still in progress.
 *
 * One loader thread owns the userfaultfd: between background blocks (in
 * address order) it serves every pending fault first, decoding the faulting
 * page's whole block and placing it with one UFFDIO_COPY (a block of
 * nothing but zero pages with UFFDIO_ZEROPAGE). When every stored block is
 * in place it unregisters the regions; later first touches of zero pages are
 * ordinary anonymous faults. Only the loader touches the block states, and it
 * never touches guest RAM itself (that would fault on its own fd). */
#include "checkpoint/lazy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sim/log.h"
#include "sim/sim.h"
#include "sim/util.h"

DEBUG_FLAG_DECLARE(Checkpoint);

#define BLOCK_BYTES (MEMFILE_BLOCK_PAGES * MEMFILE_PAGE)

struct lazy_load {
    int uffd;
    pthread_t thread;
    char *dir;
    uint8_t *host[8];
    uint64_t size[8];
    unsigned nregions;
    struct lazy_chunk *chunks;
    size_t nchunks;
    uint8_t **done; /* per chunk, per block: placed */
    uint8_t *buf;
    double start;
    struct lazy_stats stats;
    bool failed, gone;
    char err[768];
};

static struct lazy_load *current;
static struct lazy_stats last_stats;

static int open_uffd(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct uffdio_api api = {.api = UFFD_API};
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool lazy_available(void)
{
    static int known = -1;
    if (known < 0) {
        int fd = open_uffd();
        known = fd >= 0;
        if (fd >= 0)
            close(fd);
        else
            DPRINTF(Checkpoint, NULL,
                         "userfaultfd unavailable (%s): restores load RAM eagerly",
                         strerror(errno));
    }
    return known;
}

static void unregister_all(struct lazy_load *l)
{
    for (unsigned i = 0; i < l->nregions; i++) {
        struct uffdio_range r = {(uintptr_t)l->host[i], l->size[i]};
        ioctl(l->uffd, UFFDIO_UNREGISTER, &r);
    }
}

/* Places len bytes at dst: src's data, or zeros when src is NULL. Pages
 * already present (EEXIST) are skipped page by page. false when the memory
 * went away (the machine was destroyed) or the kernel refused. */
static bool place(struct lazy_load *l, uint8_t *dst, const uint8_t *src, uint64_t len)
{
    uint64_t done = 0;
    while (done < len) {
        long rc, copied;
        if (src) {
            struct uffdio_copy c = {(uintptr_t)(dst + done), (uintptr_t)(src + done), len - done,
                                    0, 0};
            rc = ioctl(l->uffd, UFFDIO_COPY, &c);
            copied = (long)c.copy;
        } else {
            struct uffdio_zeropage z = {{(uintptr_t)(dst + done), len - done}, 0, 0};
            rc = ioctl(l->uffd, UFFDIO_ZEROPAGE, &z);
            copied = (long)z.zeropage;
        }
        if (copied > 0)
            done += (uint64_t)copied;
        if (rc == 0)
            continue;
        if (errno == EAGAIN)
            continue;
        if (errno == EEXIST) {
            done = (done & ~(MEMFILE_PAGE - 1)) + MEMFILE_PAGE; /* skip the present page */
            continue;
        }
        l->gone = true;
        DPRINTF(Checkpoint, NULL, "lazy restore stops: placing guest memory "
                     "failed: %s", strerror(errno));
        return false;
    }
    return true;
}

static void fail(struct lazy_load *l, const char *what)
{
    l->failed = true;
    snprintf(l->err, sizeof(l->err), "restore from %s failed while loading guest RAM: %s",
             l->dir, what);
    log_error("%s; stopping the run", l->err);
    /* The loader cannot reach the simulation safely from its thread; the
     * engines and the run loop stop on this flag as on a signal. */
    sim_stop_requested = 1;
}

/* Loads chunk c's block b if it is not placed yet. false: stop loading. */
static bool load_block(struct lazy_load *l, size_t c, uint32_t b, bool on_fault)
{
    struct lazy_chunk *ch = &l->chunks[c];
    if (l->done[c][b])
        return true;
    uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES;
    uint64_t n = ch->m.pages - first < MEMFILE_BLOCK_PAGES ? ch->m.pages - first
                                                            : MEMFILE_BLOCK_PAGES;
    uint8_t *dst = ch->host + first * MEMFILE_PAGE;
    bool ok;
    if (memfile_block_stored(&ch->m, b) == 0) {
        ok = place(l, dst, NULL, n * MEMFILE_PAGE);
        l->stats.zero_blocks_on_fault += on_fault;
    } else if (memfile_decode_block(&ch->m, b, l->buf) < 0) {
        fail(l, err_get());
        return false;
    } else {
        ok = place(l, dst, l->buf, n * MEMFILE_PAGE);
        l->stats.blocks_on_fault += on_fault;
    }
    l->done[c][b] = 1;
    return ok;
}

/* Serves every fault waiting now. false: stop loading. */
static bool serve_faults(struct lazy_load *l)
{
    struct uffd_msg msg[16];
    for (;;) {
        ssize_t got = read(l->uffd, msg, sizeof(msg));
        if (got <= 0)
            return got == 0 || errno == EAGAIN || errno == EINTR;
        for (size_t i = 0; i < (size_t)got / sizeof(msg[0]); i++) {
            if (msg[i].event != UFFD_EVENT_PAGEFAULT)
                continue;
            uint8_t *addr = (uint8_t *)(uintptr_t)msg[i].arg.pagefault.address;
            bool found = false;
            for (size_t c = 0; c < l->nchunks && !found; c++) {
                struct lazy_chunk *ch = &l->chunks[c];
                if (addr < ch->host || addr >= ch->host + ch->m.len)
                    continue;
                found = true;
                uint32_t b = (uint32_t)((uint64_t)(addr - ch->host) / BLOCK_BYTES);
                if (l->done[c][b]) {
                    /* Placed after this fault was queued: the copy woke it. */
                    struct uffdio_range r = {(uintptr_t)addr & ~(MEMFILE_PAGE - 1), MEMFILE_PAGE};
                    ioctl(l->uffd, UFFDIO_WAKE, &r);
                } else if (!load_block(l, c, b, true)) {
                    return false;
                }
            }
        }
    }
}

static void *loader(void *arg)
{
    struct lazy_load *l = arg;
    bool go = true;
    for (size_t c = 0; c < l->nchunks && go; c++) {
        for (uint32_t b = 0; b < l->chunks[c].m.nblocks && go; b++) {
            go = serve_faults(l);
            if (go && memfile_block_stored(&l->chunks[c].m, b))
                go = load_block(l, c, b, false);
        }
    }
    if (!l->gone)
        unregister_all(l); /* wakes any waiter: it refaults as an ordinary fault */
    l->stats.seconds = host_seconds() - l->start;
    return NULL;
}

int lazy_start(const char *dir, uint8_t *const *host, const uint64_t *size, unsigned nregions,
               struct lazy_chunk *chunks, size_t nchunks)
{
    if (lazy_wait(NULL) < 0)
        log_warn("the previous lazy restore had failed: %s", err_get());
    if (nregions > 8) {
        err_set("lazy restore: %u RAM regions (at most 8)", nregions);
        return -1;
    }
    int fd = open_uffd();
    if (fd < 0) {
        err_set("lazy restore: userfaultfd: %s", strerror(errno));
        return -1;
    }
    struct lazy_load *l = calloc(1, sizeof(*l));
    l->uffd = fd;
    l->nregions = nregions;
    for (unsigned i = 0; i < nregions; i++) {
        l->host[i] = host[i];
        l->size[i] = size[i];
        struct uffdio_register reg = {{(uintptr_t)host[i], size[i]}, UFFDIO_REGISTER_MODE_MISSING,
                                      0};
        if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
            err_set("lazy restore: cannot register guest RAM with userfaultfd: %s",
                    strerror(errno));
            l->nregions = i;
            unregister_all(l);
            close(fd);
            free(l);
            return -1;
        }
    }
    /* From here on the old contents go: every page is missing until the
     * loader places it. */
    for (unsigned i = 0; i < nregions; i++)
        madvise(host[i], size[i], MADV_DONTNEED);
    l->dir = strdup(dir);
    l->chunks = chunks;
    l->nchunks = nchunks;
    l->done = calloc(nchunks ? nchunks : 1, sizeof(*l->done));
    for (size_t c = 0; c < nchunks; c++) {
        l->done[c] = calloc(chunks[c].m.nblocks ? chunks[c].m.nblocks : 1, 1);
        for (uint32_t b = 0; b < chunks[c].m.nblocks; b++)
            l->stats.blocks += memfile_block_stored(&chunks[c].m, b) != 0;
    }
    l->buf = malloc(BLOCK_BYTES);
    if (!l->dir || !l->done || !l->buf)
        fatal("out of memory");
    l->start = host_seconds();
    current = l;
    if (pthread_create(&l->thread, NULL, loader, l) != 0)
        fatal("lazy restore: cannot start the loader thread");
    return 0;
}

int lazy_wait(struct lazy_stats *stats)
{
    struct lazy_load *l = current;
    if (!l) {
        if (stats)
            *stats = last_stats;
        return 0;
    }
    pthread_join(l->thread, NULL);
    current = NULL;
    last_stats = l->stats;
    if (stats)
        *stats = l->stats;
    int rc = 0;
    if (l->failed) {
        err_set("%s", l->err);
        rc = -1;
    }
    close(l->uffd);
    for (size_t c = 0; c < l->nchunks; c++) {
        memfile_unmap(l->chunks[c].data, l->chunks[c].size);
        free(l->chunks[c].path);
        free(l->done[c]);
    }
    free(l->chunks);
    free(l->done);
    free(l->buf);
    free(l->dir);
    free(l);
    return rc;
}
