/* A small ACPI Machine Language (AML) encoder, following the ACPI 6.5
 * specification chapter 20 ("ACPI Machine Language (AML) Specification") and
 * section 6.4 (resource data types for the small and large resource
 * descriptors that _CRS buffers hold).
 *
 * AML is written into a growable byte buffer. Objects with a PkgLength
 * (Scope, Device, Method, Package, Buffer) are opened with a *_begin call
 * that returns a mark and closed with aml_end(mark): the length is only known
 * once the body is written, so aml_end inserts the encoded PkgLength in front
 * of the body.
 *
 * Errors (an invalid name, an unclosed object, a string with a NUL) are
 * sticky: the first one is recorded in the buffer, later calls do nothing,
 * and aml_error() reports it once the caller has finished building. */
#ifndef TANDEM_BOOT_AML_H
#define TANDEM_BOOT_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml_buf {
    uint8_t *data;
    size_t len, cap;
    size_t open[AML_MAX_DEPTH]; /* marks of the objects not yet closed */
    unsigned depth;
    char error[160]; /* empty while no error occurred */
};

void aml_init(struct aml_buf *b);
void aml_free(struct aml_buf *b);
/* The first error recorded, or NULL; an object still open counts as an
 * error, so call it once the AML is complete. */
const char *aml_error(struct aml_buf *b);

void aml_byte(struct aml_buf *b, uint8_t v);
void aml_bytes(struct aml_buf *b, const void *p, size_t n);
/* Little-endian raw fields (used inside resource descriptors). */
void aml_u16(struct aml_buf *b, uint16_t v);
void aml_u32(struct aml_buf *b, uint32_t v);

/* PkgLength (ACPI 20.2.4): encodes the total length `len` (which counts the
 * PkgLength bytes themselves) in 1 to 4 bytes; returns the byte count, or 0
 * when len cannot be encoded (above 2^28 - 1). */
unsigned aml_pkglen_encode(uint32_t len, uint8_t out[4]);

/* A NameString (ACPI 20.2.2): an optional root prefix '\' or parent prefixes
 * '^', then dot-separated NameSegs of 1 to 4 characters (lead A-Z or '_',
 * then A-Z, 0-9 or '_'), each padded with '_' to four characters. An empty
 * string is the NullName. */
void aml_name_string(struct aml_buf *b, const char *path);

/* Integers (20.2.3): Zero, One and Ones opcodes for 0, 1 and all ones, else
 * the smallest of ByteConst, WordConst, DWordConst and QWordConst. */
void aml_integer(struct aml_buf *b, uint64_t v);
/* Always a DWordConst (for values whose width matters, e.g. EISA ids). */
void aml_dword_const(struct aml_buf *b, uint32_t v);
/* A String: printable ASCII only. */
void aml_string(struct aml_buf *b, const char *s);

/* The compressed EISA id of "AAANNNN" (three letters A-Z, four hex digits),
 * as the little-endian DWORD ACPI stores; 0 after an error (set in b). */
uint32_t aml_eisaid_value(struct aml_buf *b, const char *id);
/* DWordConst of aml_eisaid_value. */
void aml_eisaid(struct aml_buf *b, const char *id);

/* Name(name, ...): the caller writes the value object next. */
void aml_name(struct aml_buf *b, const char *name);

/* Objects with a body; each returns a mark for aml_end. */
size_t aml_scope_begin(struct aml_buf *b, const char *name);
size_t aml_device_begin(struct aml_buf *b, const char *name);
/* Method flags: argument count 0-7, serialized or not, sync level 0. */
size_t aml_method_begin(struct aml_buf *b, const char *name, unsigned nargs, bool serialized);
/* Package with a fixed number of elements the caller then writes. */
size_t aml_package_begin(struct aml_buf *b, unsigned nelements);
void aml_end(struct aml_buf *b, size_t mark);

/* Return(...): the caller writes the returned object next. */
void aml_return(struct aml_buf *b);
/* Buffer(len){bytes}. */
void aml_buffer(struct aml_buf *b, const void *data, size_t len);

/* Resource descriptors (ACPI 6.4), written into a buffer of their own that
 * aml_resource_template then wraps. */
/* I/O port (small item 0x47), 16-bit decode, fixed range [base, base+len). */
void aml_res_io(struct aml_buf *b, uint16_t base, uint8_t len);
/* IRQ without flags (small item 0x22): ISA edge, active high, exclusive. */
void aml_res_irq(struct aml_buf *b, unsigned irq);
/* IRQ with flags (small item 0x23). */
void aml_res_irq_flags(struct aml_buf *b, unsigned irq, bool level_triggered,
                       bool active_low, bool shared);
/* Memory32Fixed (large item 0x86). */
void aml_res_memory32_fixed(struct aml_buf *b, uint32_t base, uint32_t len, bool writable);
/* Extended Interrupt (large item 0x89): one consumer interrupt. */
void aml_res_ext_irq(struct aml_buf *b, uint32_t gsi, bool level_triggered, bool active_low,
                     bool shared);
/* End tag (small item 0x79) whose checksum makes all of res sum to zero;
 * res must hold the descriptors only. */
void aml_res_end(struct aml_buf *res);
/* Buffer{descriptors of res, end tag}: res is left with the end tag added. */
void aml_resource_template(struct aml_buf *b, struct aml_buf *res);

#endif
