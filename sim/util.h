/* Small shared helpers: atomic file writes and JSON string output. */
#ifndef TANDEM_SIM_UTIL_H
#define TANDEM_SIM_UTIL_H

#include <stdio.h>

/* Opens path.tmp.PID for writing; atomic_file_commit renames it over path,
 * atomic_file_abort removes it, so readers never see a half-written file. */
struct atomic_file {
    FILE *f;
    char *path;
    char *tmp;
};
int atomic_file_open(struct atomic_file *af, const char *path);
int atomic_file_commit(struct atomic_file *af);
void atomic_file_abort(struct atomic_file *af);

void json_put_string(FILE *f, const char *s);
/* Joins dir and name into a newly allocated path. */
char *path_join(const char *dir, const char *name);
/* mkdir -p; 0 or -1 (err_set). */
int make_dirs(const char *path);
/* Reads a whole file; NULL with err_set() naming it. */
void *read_whole_file(const char *path, size_t *len);

#endif
