#include "checkpoint/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <libfdt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/lazy.h"
#include "mem/system.h"
#include "sim/command.h"
#include "sim/log.h"
#include "sim/lua.h"
#include "sim/serialize.h"
#include "sim/sim.h"
#include "sim/util.h"

DEBUG_FLAG_DEFINE(Checkpoint, "checkpoint save and restore");

/* ---- tree <-> FDT ---- */

static int put_node(void *fdt, const struct ser_node *n)
{
    int rc = fdt_begin_node(fdt, n->name);
    for (size_t i = 0; i < n->nprops && rc == 0; i++)
        rc = fdt_property(fdt, n->props[i].name, n->props[i].data, (int)n->props[i].len);
    for (size_t i = 0; i < n->nchildren && rc == 0; i++)
        rc = put_node(fdt, n->children[i]);
    return rc ? rc : fdt_end_node(fdt);
}

void *ser_to_fdt(const struct ser_node *root, size_t *len)
{
    int size = 1 << 16;
    for (;;) {
        void *fdt = malloc((size_t)size);
        int rc = fdt_create(fdt, size);
        if (rc == 0)
            rc = fdt_finish_reservemap(fdt);
        if (rc == 0)
            rc = put_node(fdt, root);
        if (rc == 0)
            rc = fdt_finish(fdt);
        if (rc == 0) {
            *len = fdt_totalsize(fdt);
            return fdt;
        }
        free(fdt);
        if (rc != -FDT_ERR_NOSPACE || size > (1 << 30))
            return NULL;
        size *= 4;
    }
}

static int get_node(const void *fdt, int off, struct ser_node *n, int depth)
{
    if (depth > 64) {
        err_set("checkpoint tree nests too deeply");
        return -1;
    }
    int prop;
    fdt_for_each_property_offset(prop, fdt, off) {
        const char *name;
        int len;
        const void *data = fdt_getprop_by_offset(fdt, prop, &name, &len);
        if (!data || !name || len < 0) {
            err_set("checkpoint tree: unreadable property in node '%s'", n->path);
            return -1;
        }
        ser_put_bytes(n, name, data, (size_t)len);
    }
    if (prop != -FDT_ERR_NOTFOUND) {
        err_set("checkpoint tree: corrupted properties in node '%s' (%s)", n->path,
                fdt_strerror(prop));
        return -1;
    }
    int child;
    fdt_for_each_subnode(child, fdt, off) {
        int len;
        const char *name = fdt_get_name(fdt, child, &len);
        if (!name) {
            err_set("checkpoint tree: unreadable node name under '%s'", n->path);
            return -1;
        }
        if (ser_find_child(n, name)) {
            err_set("checkpoint tree: node '%s' appears twice under '%s'", name, n->path);
            return -1;
        }
        if (get_node(fdt, child, ser_child(n, name), depth + 1) < 0)
            return -1;
    }
    if (child != -FDT_ERR_NOTFOUND) {
        err_set("checkpoint tree: corrupted nodes under '%s' (%s)", n->path, fdt_strerror(child));
        return -1;
    }
    return 0;
}

struct ser_node *fdt_to_ser(const void *blob, size_t len)
{
    if (len < sizeof(struct fdt_header)) {
        err_set("checkpoint tree is truncated (%zu bytes)", len);
        return NULL;
    }
    int rc = fdt_check_header(blob);
    if (rc == 0 && fdt_totalsize(blob) != len)
        rc = -FDT_ERR_TRUNCATED;
    /* libfdt's full check dereferences NULL on blobs older than version 17
     * (found by the fuzzer); tandem writes version 17. */
    if (rc == 0 && fdt_version(blob) < 17) {
        err_set("checkpoint tree is device-tree version %u; tandem writes version 17",
                (unsigned)fdt_version(blob));
        return NULL;
    }
    if (rc == 0)
        rc = fdt_check_full(blob, len);
    if (rc) {
        err_set("checkpoint tree is not a valid device tree blob: %s", fdt_strerror(rc));
        return NULL;
    }
    struct ser_node *root = ser_node_new("", "");
    if (get_node(blob, 0, root, 0) < 0) {
        ser_node_free(root);
        return NULL;
    }
    return root;
}

/* ---- memory files, compressed by a small pool of threads ---- */

struct mem_job {
    char *path;
    const char *file;
    uint8_t *mem;
    uint64_t gpa, len;
    uint32_t crc;
    const uint8_t *data; /* restore: the mapped file, parsed into m */
    size_t size;
    struct memfile m;
    int rc;
    char err[512];
};

struct mem_pool {
    struct mem_job *jobs;
    size_t njobs, next;
    bool reading;
    pthread_mutex_t lock;
};

static void *mem_worker(void *arg)
{
    struct mem_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->njobs)
            return NULL;
        struct mem_job *j = &p->jobs[i];
        j->rc = p->reading ? memfile_decode(j->data, j->size, j->mem, j->len, j->path)
                           : memfile_write(j->path, j->mem, j->len, &j->crc);
        if (j->rc)
            snprintf(j->err, sizeof(j->err), "%s", err_get());
    }
}

static int run_pool(struct mem_job *jobs, size_t n, bool reading)
{
    struct mem_pool p = {jobs, n, 0, reading, PTHREAD_MUTEX_INITIALIZER};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = cpus > 1 ? (size_t)cpus : 1;
    if (nthreads > n)
        nthreads = n ? n : 1;
    pthread_t th[64];
    if (nthreads > 64)
        nthreads = 64;
    for (size_t i = 1; i < nthreads; i++)
        pthread_create(&th[i], NULL, mem_worker, &p);
    mem_worker(&p);
    for (size_t i = 1; i < nthreads; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].rc) {
            err_set("%s", jobs[i].err);
            return -1;
        }
    }
    return 0;
}

static size_t plan_jobs(struct system *sys, const char *dir, struct mem_job **out)
{
    size_t n = 0;
    for (unsigned r = 0; r < sys->nram; r++)
        n += (size_t)((sys->ram[r].size + CHECKPOINT_CHUNK_BYTES - 1) / CHECKPOINT_CHUNK_BYTES);
    struct mem_job *jobs = calloc(n ? n : 1, sizeof(*jobs));
    size_t k = 0;
    for (unsigned r = 0; r < sys->nram; r++) {
        for (uint64_t off = 0; off < sys->ram[r].size; off += CHECKPOINT_CHUNK_BYTES, k++) {
            struct mem_job *j = &jobs[k];
            uint64_t left = sys->ram[r].size - off;
            j->len = left < CHECKPOINT_CHUNK_BYTES ? left : CHECKPOINT_CHUNK_BYTES;
            j->gpa = sys->ram[r].gpa + off;
            j->mem = sys->ram[r].host + off;
            if (asprintf(&j->path, "%s/mem-%u-%llu.zpg", dir, r,
                         (unsigned long long)(off / CHECKPOINT_CHUNK_BYTES)) < 0)
                fatal("out of memory");
            j->file = strrchr(j->path, '/') + 1;
        }
    }
    *out = jobs;
    return n;
}

static void free_jobs(struct mem_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memfile_unmap(jobs[i].data, jobs[i].size);
        free(jobs[i].path);
    }
    free(jobs);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = path_join(dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static struct system *the_system(struct simulation *sim)
{
    return SIM_CAST(struct system, sim_find_type(sim, "System"));
}

int checkpoint_save(struct simulation *sim, const char *dir)
{
    struct system *sys = the_system(sim);
    if (!sim->instantiated || !sys) {
        err_set("checkpoint: the machine is not instantiated (no System)");
        return -1;
    }
    if (lazy_wait(NULL) < 0)
        return -1;
    struct stat st;
    if (stat(dir, &st) == 0) {
        err_set("checkpoint: %s already exists; choose a new directory", dir);
        return -1;
    }
    if (sim_drain(sim) < 0)
        return -1;
    char *tmp;
    if (asprintf(&tmp, "%s.tmp.%d", dir, (int)getpid()) < 0)
        fatal("out of memory");
    if (mkdir(tmp, 0777) < 0) {
        err_set("checkpoint: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    struct mem_job *jobs;
    size_t njobs = plan_jobs(sys, tmp, &jobs);
    int rc = run_pool(jobs, njobs, false);
    struct ser_node *root = NULL;
    void *blob = NULL;
    size_t blob_len = 0;
    if (rc == 0) {
        root = sim_serialize(sim);
        struct ser_node *ck = ser_child(root, "checkpoint");
        ser_put_u64(ck, "format-version", CHECKPOINT_FORMAT_VERSION);
        ser_put_str(ck, "tandem-version", TANDEM_VERSION);
        ser_put_u64(ck, "tick", sim_now(sim));
        struct ser_node *mem = ser_child(ck, "memory");
        for (size_t i = 0; i < njobs; i++) {
            struct ser_node *m = ser_child(mem, jobs[i].file);
            ser_put_u64(m, "gpa", jobs[i].gpa);
            ser_put_u64(m, "len", jobs[i].len);
            ser_put_u64(m, "crc32", jobs[i].crc);
        }
        blob = ser_to_fdt(root, &blob_len);
        if (!blob) {
            err_set("checkpoint: cannot encode the object tree");
            rc = -1;
        }
    }
    if (rc == 0) {
        char *p = path_join(tmp, "tree.dtb");
        FILE *f = fopen(p, "wb");
        if (!f || fwrite(blob, blob_len, 1, f) != 1 || fclose(f) != 0) {
            err_set("checkpoint: cannot write %s: %s", p, strerror(errno ? errno : EIO));
            rc = -1;
        }
        free(p);
    }
    if (rc == 0) {
        char *p = path_join(tmp, "config.json");
        rc = sim_write_config_json(sim, p);
        free(p);
    }
    if (rc == 0 && rename(tmp, dir) < 0) {
        err_set("checkpoint: cannot rename %s to %s: %s", tmp, dir, strerror(errno));
        rc = -1;
    }
    if (rc)
        remove_tree(tmp);
    else
        log_info("checkpoint written to %s at tick %llu", dir, (unsigned long long)sim_now(sim));
    free(blob);
    ser_node_free(root);
    free_jobs(jobs, njobs);
    free(tmp);
    return rc;
}

static struct ser_node *load_tree(const char *dir, const struct ser_node **ck_out)
{
    char *p = path_join(dir, "tree.dtb");
    size_t len;
    void *blob = read_whole_file(p, &len);
    free(p);
    if (!blob) {
        err_set("%s is not a tandem checkpoint: %s", dir, err_get());
        return NULL;
    }
    struct ser_node *root = fdt_to_ser(blob, len);
    free(blob);
    if (!root)
        return NULL;
    const struct ser_node *ck = ser_find_child(root, "checkpoint");
    uint64_t version;
    if (!ck || ser_get_u64(ck, "format-version", &version) < 0) {
        err_set("%s: the tree has no checkpoint/format-version", dir);
        ser_node_free(root);
        return NULL;
    }
    if (version != CHECKPOINT_FORMAT_VERSION) {
        err_set("%s: checkpoint format version %llu; this tandem reads version %d", dir,
                (unsigned long long)version, CHECKPOINT_FORMAT_VERSION);
        ser_node_free(root);
        return NULL;
    }
    *ck_out = ck;
    return root;
}

/* Hands the parsed files of jobs to the lazy loader; 0, or -1 with the jobs
 * still owning their files (then they load eagerly). */
static int start_lazy(struct system *sys, const char *dir, struct mem_job *jobs, size_t njobs)
{
    uint8_t *host[SYSTEM_MAX_RAM_REGIONS];
    uint64_t size[SYSTEM_MAX_RAM_REGIONS];
    for (unsigned r = 0; r < sys->nram; r++) {
        host[r] = sys->ram[r].host;
        size[r] = sys->ram[r].size;
    }
    struct lazy_chunk *chunks = calloc(njobs ? njobs : 1, sizeof(*chunks));
    for (size_t i = 0; i < njobs; i++)
        chunks[i] = (struct lazy_chunk){jobs[i].m, jobs[i].data, jobs[i].size, jobs[i].path,
                                        jobs[i].mem, jobs[i].gpa};
    if (lazy_start(dir, host, size, sys->nram, chunks, njobs) < 0) {
        free(chunks);
        return -1;
    }
    for (size_t i = 0; i < njobs; i++) { /* the loader owns them now */
        jobs[i].data = NULL;
        jobs[i].path = NULL;
    }
    return 0;
}

int checkpoint_restore(struct simulation *sim, const char *dir)
{
    return checkpoint_restore_mode(sim, dir, lazy_available());
}

int checkpoint_restore_mode(struct simulation *sim, const char *dir, bool lazy)
{
    struct system *sys = the_system(sim);
    if (!sim->instantiated || !sys) {
        err_set("restore: the machine is not instantiated (no System)");
        return -1;
    }
    if (lazy_wait(NULL) < 0)
        log_warn("the previous lazy restore had failed: %s", err_get());
    double start = host_seconds();
    const struct ser_node *ck;
    struct ser_node *root = load_tree(dir, &ck);
    if (!root)
        return -1;
    struct mem_job *jobs;
    size_t njobs = plan_jobs(sys, dir, &jobs);
    const struct ser_node *mem = ser_find_child(ck, "memory");
    int rc = 0;
    if (!mem || mem->nchildren != njobs) {
        err_set("%s: checkpoint memory has %zu chunks, this machine's RAM needs %zu "
                "(different mem_size?)", dir, mem ? mem->nchildren : 0, njobs);
        rc = -1;
    }
    for (size_t i = 0; i < njobs && rc == 0; i++) {
        const struct ser_node *m = ser_find_child(mem, jobs[i].file);
        uint64_t gpa, len, crc;
        if (!m) {
            err_set("%s: checkpoint lacks memory chunk %s", dir, jobs[i].file);
            rc = -1;
        } else if (ser_get_u64(m, "gpa", &gpa) || ser_get_u64(m, "len", &len) ||
                   ser_get_u64(m, "crc32", &crc)) {
            rc = -1;
        } else if (gpa != jobs[i].gpa || len != jobs[i].len) {
            err_set("%s: memory chunk %s covers 0x%llx+0x%llx, this machine 0x%llx+0x%llx "
                    "(different mem_size?)", dir,
                    jobs[i].file, (unsigned long long)gpa, (unsigned long long)len,
                    (unsigned long long)jobs[i].gpa, (unsigned long long)jobs[i].len);
            rc = -1;
        } else if (access(jobs[i].path, R_OK) < 0) {
            err_set("%s: memory chunk %s is missing", dir, jobs[i].file);
            rc = -1;
        } else if (memfile_map(jobs[i].path, &jobs[i].data, &jobs[i].size) < 0 ||
                   memfile_parse(&jobs[i].m, jobs[i].data, jobs[i].size, jobs[i].len,
                                 jobs[i].path) < 0) {
            rc = -1;
        } else if (jobs[i].m.crc != (uint32_t)crc) {
            err_set("%s: memory chunk %s has header checksum 0x%08x, the tree records 0x%08x "
                    "(a file from another checkpoint?)", dir, jobs[i].file, jobs[i].m.crc,
                    (unsigned)crc);
            rc = -1;
        }
    }
    /* Everything above changes nothing; the object tree changes nothing when
     * it does not match either, so try it before RAM. A RAM failure after
     * that poisons the run (eager) or stops it (lazy, lazy.c). */
    DPRINTF(Checkpoint, NULL, "restore: %s and %zu chunk files checked in %.1f ms", dir, njobs,
            (host_seconds() - start) * 1e3);
    if (rc == 0)
        rc = sim_unserialize(sim, root);
    bool lazy_started = false;
    if (rc == 0 && lazy) {
        lazy_started = start_lazy(sys, dir, jobs, njobs) == 0;
        if (!lazy_started)
            log_warn("%s; loading guest RAM eagerly", err_get());
    }
    if (rc == 0 && !lazy_started && run_pool(jobs, njobs, true) < 0) {
        rc = -1;
        char msg[600];
        snprintf(msg, sizeof(msg), "restore from %s failed part-way: %s", dir, err_get());
        err_set("%s", msg);
        sim_exit(sim, 1, "checkpoint restore failed");
    }
    if (rc == 0)
        log_info("restored %s at tick %llu%s", dir, (unsigned long long)sim_now(sim),
                 lazy_started ? " (guest RAM loading in the background)" : "");
    free_jobs(jobs, njobs);
    ser_node_free(root);
    return rc;
}

static void print_objects(const struct ser_node *n, const char *prefix, unsigned *count)
{
    for (size_t i = 0; i < n->nchildren; i++) {
        const struct ser_node *c = n->children[i];
        char path[512];
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", c->name);
        const char *type;
        if (ser_find_prop(c, "type") && ser_get_str(c, "type", &type) == 0) {
            printf("  %-32s %-20s %zu fields\n", path, type, c->nprops - 1);
            (*count)++;
        }
        print_objects(c, path, count);
    }
}

int checkpoint_info(const char *dir)
{
    const struct ser_node *ck;
    struct ser_node *root = load_tree(dir, &ck);
    if (!root)
        return -1;
    uint64_t tick = 0;
    const char *ver = "?";
    ser_get_u64(ck, "tick", &tick);
    ser_get_str(ck, "tandem-version", &ver);
    printf("checkpoint %s\n  format version %d, written by tandem %s\n  tick %llu (%.6f s simulated)\n",
           dir, CHECKPOINT_FORMAT_VERSION, ver, (unsigned long long)tick, (double)tick / TICKS_PER_S);
    printf("objects:\n");
    unsigned count = 0;
    const struct ser_node *objs = ser_find_child(root, "objects");
    if (objs)
        print_objects(objs, "", &count);
    printf("  (%u objects)\nmemory:\n", count);
    const struct ser_node *mem = ser_find_child(ck, "memory");
    uint64_t total = 0, stored = 0;
    for (size_t i = 0; mem && i < mem->nchildren; i++) {
        uint64_t gpa = 0, len = 0;
        ser_get_u64(mem->children[i], "gpa", &gpa);
        ser_get_u64(mem->children[i], "len", &len);
        char *p = path_join(dir, mem->children[i]->name);
        struct stat st;
        uint64_t fsize = stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
        free(p);
        printf("  %-20s gpa 0x%09llx  %6llu MiB  file %llu KiB\n", mem->children[i]->name,
               (unsigned long long)gpa, (unsigned long long)(len >> 20),
               (unsigned long long)(fsize >> 10));
        total += len;
        stored += fsize;
    }
    printf("  total %llu MiB of RAM in %llu KiB of files\n", (unsigned long long)(total >> 20),
           (unsigned long long)(stored >> 10));
    ser_node_free(root);
    return 0;
}

static double process_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int l_save(lua_State *L)
{
    struct simulation *sim = lua_sim(L);
    lua_sim_instantiate(L);
    double start = host_seconds(), cpu = process_cpu_seconds();
    if (checkpoint_save(sim, luaL_checkstring(L, 1)) < 0)
        return luaL_error(L, "%s", err_get());
    /* Host ms taken, and CPU ms of all threads (the figure a busy host does
     * not inflate). */
    lua_pushnumber(L, (host_seconds() - start) * 1e3);
    lua_pushnumber(L, (process_cpu_seconds() - cpu) * 1e3);
    return 2;
}

/* checkpoint.restore(dir [, {lazy = bool}]): lazy defaults to true where
 * userfaultfd works. checkpoint.save and .restore return the host ms taken
 * (save: and the CPU ms of all its threads). */
static int l_restore(lua_State *L)
{
    struct simulation *sim = lua_sim(L);
    const char *dir = luaL_checkstring(L, 1);
    bool lazy = lazy_available();
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "lazy");
        if (!lua_isnil(L, -1))
            lazy = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_sim_instantiate(L);
    double start = host_seconds();
    if (checkpoint_restore_mode(sim, dir, lazy) < 0)
        return luaL_error(L, "%s", err_get());
    lua_pushnumber(L, (host_seconds() - start) * 1e3); /* host ms until the machine can run */
    return 1;
}

/* checkpoint.wait(): waits for a lazy restore to finish loading guest RAM;
 * raises its error, else returns {ms, blocks, blocks_on_fault,
 * zero_blocks_on_fault} of the last lazy restore. */
static int l_wait(lua_State *L)
{
    struct lazy_stats st;
    if (lazy_wait(&st) < 0)
        return luaL_error(L, "%s", err_get());
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, st.seconds * 1e3);
    lua_setfield(L, -2, "ms");
    lua_pushinteger(L, (lua_Integer)st.blocks);
    lua_setfield(L, -2, "blocks");
    lua_pushinteger(L, (lua_Integer)st.blocks_on_fault);
    lua_setfield(L, -2, "blocks_on_fault");
    lua_pushinteger(L, (lua_Integer)st.zero_blocks_on_fault);
    lua_setfield(L, -2, "zero_blocks_on_fault");
    return 1;
}

static const luaL_Reg checkpoint_funcs[] = {
    {"save", l_save}, {"restore", l_restore}, {"wait", l_wait}, {NULL, NULL}};
static struct lua_extension checkpoint_lua = {"checkpoint", checkpoint_funcs, NULL};
LUA_EXTENSION_REGISTER(checkpoint_lua);

static int cmd_checkpoint(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "info") != 0) {
        fprintf(stderr, "tandem: error: usage: tandem checkpoint info DIR\n");
        return 2;
    }
    if (checkpoint_info(argv[2]) < 0) {
        log_error("%s", err_get());
        return 1;
    }
    return 0;
}

static struct cli_command checkpoint_command = {
    "checkpoint", "tandem checkpoint info DIR   summarise a checkpoint directory\n",
    cmd_checkpoint, NULL};
CLI_COMMAND_REGISTER(checkpoint_command);

int checkpoint_wait(void)
{
    return lazy_wait(NULL);
}
