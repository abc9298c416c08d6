#include "sim/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/object.h"

int atomic_file_open(struct atomic_file *af, const char *path)
{
    af->path = strdup(path);
    if (asprintf(&af->tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
        free(af->path);
        err_set("out of memory");
        return -1;
    }
    af->f = fopen(af->tmp, "w");
    if (!af->f) {
        err_set("cannot write %s: %s", af->tmp, strerror(errno));
        free(af->path);
        free(af->tmp);
        return -1;
    }
    return 0;
}

int atomic_file_commit(struct atomic_file *af)
{
    int bad = ferror(af->f);
    if (fclose(af->f) != 0 || bad) {
        err_set("error writing %s: %s", af->tmp, strerror(errno ? errno : EIO));
        unlink(af->tmp);
        free(af->tmp);
        free(af->path);
        return -1;
    }
    int rc = rename(af->tmp, af->path);
    if (rc < 0) {
        err_set("cannot rename %s to %s: %s", af->tmp, af->path, strerror(errno));
        unlink(af->tmp);
    }
    free(af->tmp);
    free(af->path);
    return rc;
}

void atomic_file_abort(struct atomic_file *af)
{
    fclose(af->f);
    unlink(af->tmp);
    free(af->tmp);
    free(af->path);
}

void json_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

char *path_join(const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        return NULL;
    return p;
}

int make_dirs(const char *path)
{
    char *copy = strdup(path);
    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, 0777) < 0 && errno != EEXIST) {
                err_set("cannot create directory %s: %s", copy, strerror(errno));
                free(copy);
                return -1;
            }
            *p = saved;
            if (!saved)
                break;
        }
    }
    free(copy);
    return 0;
}

void *read_whole_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        err_set("error reading %s: %s", path, strerror(errno));
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}
