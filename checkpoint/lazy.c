/* Lazy restore through userfaultfd (lazy.h, docs/checkpoint.md).
 *
 * Why userfaultfd: guest RAM is read by the interpreter, by devices, by Lua
 * and, inside KVM_RUN, by the kernel on the vCPU's behalf; a missing-page
 * fault in any of them blocks the faulting thread until the loader places the
 * page, so no engine needs to know that a restore is still in progress.
 *
 * One loader thread per core takes blocks in address order from a shared
 * cursor, decodes each and places it with one UFFDIO_COPY. The first thread
 * also serves the faults: between blocks it reads every pending fault and
 * loads the faulting page's block at once (a block of nothing but zero pages
 * with UFFDIO_ZEROPAGE). A block's state (missing, claimed, placed) is
 * claimed atomically, so each block is placed once; a fault on a block
 * another thread claimed is woken by that thread's copy. When every stored
 * block is in place the regions are unregistered; later first touches of
 * zero pages are ordinary anonymous faults. No loader touches guest RAM
 * itself (that would fault on its own fd). */
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

enum { BLOCK_MISSING, BLOCK_CLAIMED, BLOCK_PLACED };
#define MAX_LOADERS 4

struct lazy_load {
    int uffd;
    pthread_t thread[MAX_LOADERS];
    unsigned nthreads;
    char *dir;
    uint8_t *host[8];
    uint64_t size[8];
    void *old[8]; /* the previous contents, moved away to be freed in the background */
    unsigned nregions;
    struct lazy_chunk *chunks;
    size_t nchunks;
    uint8_t **state;      /* per chunk, per block (atomic) */
    uint64_t *todo;       /* the stored blocks: chunk << 32 | block */
    uint64_t ntodo, next; /* next: the shared cursor (atomic) */
    uint64_t placed;      /* stored blocks in place (atomic) */
    double start;
    struct lazy_stats stats; /* counters updated atomically */
    bool failed, gone;       /* atomic */
    pthread_mutex_t err_lock;
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
        __atomic_store_n(&l->gone, true, __ATOMIC_RELAXED);
        DPRINTF(Checkpoint, NULL, "lazy restore stops: placing guest memory "
                     "failed: %s", strerror(errno));
        return false;
    }
    return true;
}

static bool stopping(struct lazy_load *l)
{
    return __atomic_load_n(&l->failed, __ATOMIC_RELAXED) ||
           __atomic_load_n(&l->gone, __ATOMIC_RELAXED);
}

static void fail(struct lazy_load *l, const char *what)
{
    pthread_mutex_lock(&l->err_lock);
    if (!l->failed) {
        snprintf(l->err, sizeof(l->err), "restore from %s failed while loading guest RAM: %s",
                 l->dir, what);
        log_error("%s; stopping the run", l->err);
        __atomic_store_n(&l->failed, true, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&l->err_lock);
    /* A loader cannot reach the simulation safely from its thread; the
     * engines and the run loop stop on this flag as on a signal. */
    sim_stop_requested = 1;
}

/* Loads chunk c's block b unless another thread claimed it. false: stop. */
static bool load_block(struct lazy_load *l, size_t c, uint32_t b, uint8_t *buf, bool on_fault)
{
    struct lazy_chunk *ch = &l->chunks[c];
    uint8_t expect = BLOCK_MISSING;
    if (!__atomic_compare_exchange_n(&l->state[c][b], &expect, BLOCK_CLAIMED, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return true;
    uint64_t first = (uint64_t)b * MEMFILE_BLOCK_PAGES;
    uint64_t n = ch->m.pages - first < MEMFILE_BLOCK_PAGES ? ch->m.pages - first
                                                            : MEMFILE_BLOCK_PAGES;
    uint8_t *dst = ch->host + first * MEMFILE_PAGE;
    bool ok;
    if (memfile_block_stored(&ch->m, b) == 0) {
        ok = place(l, dst, NULL, n * MEMFILE_PAGE);
        if (on_fault)
            __atomic_add_fetch(&l->stats.zero_blocks_on_fault, 1, __ATOMIC_RELAXED);
    } else if (memfile_decode_block(&ch->m, b, buf, false) < 0) {
        fail(l, err_get());
        return false;
    } else {
        ok = place(l, dst, buf, n * MEMFILE_PAGE);
        if (on_fault)
            __atomic_add_fetch(&l->stats.blocks_on_fault, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&l->placed, 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&l->state[c][b], BLOCK_PLACED, __ATOMIC_RELEASE);
    return ok;
}

/* Serves every fault waiting now (waiting up to timeout_ms for one). false:
 * stop loading. */
static bool serve_faults(struct lazy_load *l, uint8_t *buf, int timeout_ms)
{
    struct uffd_msg msg[16];
    if (timeout_ms) {
        struct pollfd p = {l->uffd, POLLIN, 0};
        poll(&p, 1, timeout_ms);
    }
    for (;;) {
        ssize_t got = read(l->uffd, msg, sizeof(msg));
        if (got <= 0)
            return got == 0 || errno == EAGAIN || errno == EINTR;
        for (size_t i = 0; i < (size_t)got / sizeof(msg[0]); i++) {
            if (msg[i].event != UFFD_EVENT_PAGEFAULT)
                continue;
            uint8_t *addr = (uint8_t *)(uintptr_t)msg[i].arg.pagefault.address;
            for (size_t c = 0; c < l->nchunks; c++) {
                struct lazy_chunk *ch = &l->chunks[c];
                if (addr < ch->host || addr >= ch->host + ch->m.len)
                    continue;
                uint32_t b = (uint32_t)((uint64_t)(addr - ch->host) / BLOCK_BYTES);
                if (__atomic_load_n(&l->state[c][b], __ATOMIC_ACQUIRE) == BLOCK_PLACED) {
                    /* Placed after this fault was queued: the copy woke it. */
                    struct uffdio_range r = {(uintptr_t)addr & ~(MEMFILE_PAGE - 1), MEMFILE_PAGE};
                    ioctl(l->uffd, UFFDIO_WAKE, &r);
                } else if (!load_block(l, c, b, buf, true)) {
                    return false;
                }
                break;
            }
        }
    }
}

/* Takes stored blocks from the shared cursor; the first loader also serves
 * faults between blocks and, at the end, until every block is in place. */
static void *loader(void *arg)
{
    struct lazy_load *l = arg;
    bool faults = pthread_equal(pthread_self(), l->thread[0]) || l->nthreads == 1;
    uint8_t *buf = malloc(BLOCK_BYTES);
    if (!buf)
        fatal("out of memory");
    bool go = true;
    while (go && !stopping(l)) {
        if (faults)
            go = serve_faults(l, buf, 0);
        uint64_t k = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
        if (k >= l->ntodo)
            break;
        go = go && load_block(l, (size_t)(l->todo[k] >> 32), (uint32_t)l->todo[k], buf, false);
    }
    while (faults && go && !stopping(l) &&
           __atomic_load_n(&l->placed, __ATOMIC_ACQUIRE) < l->ntodo)
        go = serve_faults(l, buf, 1);
    free(buf);
    return NULL;
}

/* Empties [host, host + size) of guest RAM. Freeing hundreds of MiB of
 * pages takes up to 100s of ms, so the old pages move away in one mremap
 * (page tables move, pages stay) and a fresh mapping takes their place; the
 * loader frees them. Returns the moved-away range, or NULL when the pages
 * were dropped in place (MADV_DONTNEED) instead. */
static void *empty_region(uint8_t *host, uint64_t size)
{
    /* A same-size mremap stays in place unless told where to go. */
    void *spot = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *old = spot == MAP_FAILED ? MAP_FAILED
                : mremap(host, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, spot);
    if (old == MAP_FAILED) {
        if (spot != MAP_FAILED)
            munmap(spot, size);
        madvise(host, size, MADV_DONTNEED);
        return NULL;
    }
    void *fresh = mmap(host, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (fresh != host) {
        /* Something took the hole: put the old pages back and drop them. */
        if (fresh != MAP_FAILED)
            munmap(fresh, size);
        if (mremap(old, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, host) != host)
            fatal("lazy restore: cannot put guest RAM back at %p: %s", (void *)host,
                  strerror(errno));
        madvise(host, size, MADV_DONTNEED);
        return NULL;
    }
    madvise(host, size, MADV_HUGEPAGE);
    return old;
}

/* Runs the loaders, then ends the lazy phase. */
static void *coordinator(void *arg)
{
    struct lazy_load *l = arg;
    l->thread[0] = pthread_self();
    for (unsigned i = 0; i < l->nregions; i++)
        if (l->old[i])
            munmap(l->old[i], l->size[i]);
    for (unsigned i = 1; i < l->nthreads; i++)
        if (pthread_create(&l->thread[i], NULL, loader, l) != 0)
            fatal("lazy restore: cannot start a loader thread");
    loader(l);
    for (unsigned i = 1; i < l->nthreads; i++)
        pthread_join(l->thread[i], NULL);
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
    /* From here on the old contents go: every page is missing until the
     * loader places it. */
    double t0 = host_seconds();
    for (unsigned i = 0; i < nregions; i++)
        l->old[i] = empty_region(host[i], size[i]);
    DPRINTF(Checkpoint, NULL, "lazy restore: guest RAM emptied in %.1f ms",
            (host_seconds() - t0) * 1e3);
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
            for (unsigned r = 0; r < nregions; r++)
                if (l->old[r])
                    munmap(l->old[r], size[r]);
            close(fd);
            free(l);
            return -1;
        }
    }

    l->dir = strdup(dir);
    l->chunks = chunks;
    l->nchunks = nchunks;
    l->state = calloc(nchunks ? nchunks : 1, sizeof(*l->state));
    uint64_t total = 0;
    for (size_t c = 0; c < nchunks; c++)
        total += chunks[c].m.nblocks;
    l->todo = calloc(total ? total : 1, sizeof(*l->todo));
    if (!l->dir || !l->state || !l->todo)
        fatal("out of memory");
    for (size_t c = 0; c < nchunks; c++) {
        l->state[c] = calloc(chunks[c].m.nblocks ? chunks[c].m.nblocks : 1, 1);
        if (!l->state[c])
            fatal("out of memory");
        for (uint32_t b = 0; b < chunks[c].m.nblocks; b++)
            if (memfile_block_stored(&chunks[c].m, b))
                l->todo[l->ntodo++] = (uint64_t)c << 32 | b;
    }
    l->stats.blocks = l->ntodo;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    l->nthreads = cpus < 1 ? 1 : cpus > MAX_LOADERS ? MAX_LOADERS : (unsigned)cpus;
    pthread_mutex_init(&l->err_lock, NULL);
    l->start = host_seconds();
    current = l;
    pthread_t coord;
    if (pthread_create(&coord, NULL, coordinator, l) != 0)
        fatal("lazy restore: cannot start the loader thread");
    l->thread[0] = coord;
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
    pthread_join(l->thread[0], NULL);
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
        free(l->state[c]);
    }
    pthread_mutex_destroy(&l->err_lock);
    free(l->chunks);
    free(l->state);
    free(l->todo);
    free(l->dir);
    free(l);
    return rc;
}
