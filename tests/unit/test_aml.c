/* AML encoder: every expected byte string is worked out by hand from the
 * ACPI 6.5 specification (chapter 20 grammar, section 6.4 resources). */
#include <stdlib.h>
#include <string.h>

#include "boot/aml.h"
#include "testlib.h"

#define EXPECT_BYTES(b, ...)                                                   \
    do {                                                                       \
        const uint8_t want_[] = {__VA_ARGS__};                                 \
        expect_bytes((b), want_, sizeof(want_), __LINE__);                     \
    } while (0)

static void expect_bytes(struct aml_buf *b, const uint8_t *want, size_t n, int line)
{
    const char *err = aml_error(b);
    ck_assert_msg(err == NULL, "line %d: unexpected AML error: %s", line, err);
    ck_assert_msg(b->len == n, "line %d: %zu bytes, expected %zu", line, b->len, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(b->data[i] == want[i], "line %d: byte %zu is 0x%02x, expected 0x%02x",
                      line, i, b->data[i], want[i]);
}

static void expect_error(struct aml_buf *b, const char *fragment)
{
    const char *err = aml_error(b);
    ck_assert_msg(err != NULL, "expected an AML error mentioning '%s'", fragment);
    ck_assert_msg(strstr(err, fragment), "error '%s' does not mention '%s'", err, fragment);
}

static void expect_pkglen(uint32_t len, unsigned n, const uint8_t *want)
{
    uint8_t out[4];
    ck_assert_uint_eq(aml_pkglen_encode(len, out), n);
    for (unsigned i = 0; i < n; i++)
        ck_assert_msg(out[i] == want[i], "pkglen %u byte %u = 0x%02x, expected 0x%02x", len,
                      i, out[i], want[i]);
}

START_TEST(pkglen_encoding_boundaries)
{
    expect_pkglen(0, 1, (const uint8_t[]){0x00});
    expect_pkglen(63, 1, (const uint8_t[]){0x3F});
    /* 64 = 0x040: lead byte 01xx0000 with low nibble 0, then 0x04. */
    expect_pkglen(64, 2, (const uint8_t[]){0x40, 0x04});
    expect_pkglen(4095, 2, (const uint8_t[]){0x4F, 0xFF});
    expect_pkglen(4096, 3, (const uint8_t[]){0x80, 0x00, 0x01});
    expect_pkglen(0xFFFFF, 3, (const uint8_t[]){0x8F, 0xFF, 0xFF});
    expect_pkglen(0x100000, 4, (const uint8_t[]){0xC0, 0x00, 0x00, 0x01});
    expect_pkglen(0xFFFFFFF, 4, (const uint8_t[]){0xCF, 0xFF, 0xFF, 0xFF});
    uint8_t out[4];
    ck_assert_uint_eq(aml_pkglen_encode(0x10000000, out), 0);
}
END_TEST

/* A package whose body (NumElements + raw bytes) is body_len bytes long. */
static void package_with_body(struct aml_buf *b, size_t body_len)
{
    size_t mark = aml_package_begin(b, 0);
    uint8_t *filler = calloc(1, body_len);
    aml_bytes(b, filler, body_len - 1);
    free(filler);
    aml_end(b, mark);
}

START_TEST(pkglen_counts_its_own_bytes)
{
    struct aml_buf b;
    aml_init(&b);
    package_with_body(&b, 62); /* 62 + 1 = 63 fits one byte */
    ck_assert_uint_eq(b.len, 1 + 1 + 62);
    ck_assert_uint_eq(b.data[0], 0x12);
    ck_assert_uint_eq(b.data[1], 0x3F);
    aml_free(&b);

    aml_init(&b);
    package_with_body(&b, 63); /* 63 + 1 = 64 does not: 63 + 2 = 65 = 0x41 */
    ck_assert_uint_eq(b.len, 1 + 2 + 63);
    ck_assert_uint_eq(b.data[1], 0x41);
    ck_assert_uint_eq(b.data[2], 0x04);
    aml_free(&b);

    aml_init(&b);
    package_with_body(&b, 4093); /* 4093 + 2 = 4095 */
    ck_assert_uint_eq(b.len, 1 + 2 + 4093);
    ck_assert_uint_eq(b.data[1], 0x4F);
    ck_assert_uint_eq(b.data[2], 0xFF);
    aml_free(&b);

    aml_init(&b);
    package_with_body(&b, 4094); /* 4094 + 2 = 4096: three bytes, 4097 */
    ck_assert_uint_eq(b.len, 1 + 3 + 4094);
    ck_assert_uint_eq(b.data[1], 0x81);
    ck_assert_uint_eq(b.data[2], 0x00);
    ck_assert_uint_eq(b.data[3], 0x01);
    ck_assert_uint_eq(b.data[4], 0x00); /* NumElements after the PkgLength */
    ck_assert_ptr_null(aml_error(&b));
    aml_free(&b);
}
END_TEST

START_TEST(name_strings)
{
    struct aml_buf b;
    aml_init(&b);
    aml_name_string(&b, "_SB");
    EXPECT_BYTES(&b, '_', 'S', 'B', '_');
    aml_free(&b);

    aml_init(&b);
    aml_name_string(&b, "\\_SB.COM1");
    EXPECT_BYTES(&b, 0x5C, 0x2E, '_', 'S', 'B', '_', 'C', 'O', 'M', '1');
    aml_free(&b);

    aml_init(&b);
    aml_name_string(&b, "A.B2.C_");
    EXPECT_BYTES(&b, 0x2F, 0x03, 'A', '_', '_', '_', 'B', '2', '_', '_', 'C', '_', '_', '_');
    aml_free(&b);

    aml_init(&b);
    aml_name_string(&b, "^^FOO");
    EXPECT_BYTES(&b, 0x5E, 0x5E, 'F', 'O', 'O', '_');
    aml_free(&b);

    aml_init(&b);
    aml_name_string(&b, "\\");
    EXPECT_BYTES(&b, 0x5C, 0x00);
    aml_free(&b);

    aml_init(&b);
    aml_name_string(&b, "");
    EXPECT_BYTES(&b, 0x00);
    aml_free(&b);
}
END_TEST

START_TEST(invalid_names_are_errors)
{
    static const char *const bad[] = {"1ABC", "ABCDE", "com1", "A..B", "A.", "_S-5", "\\^A"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct aml_buf b;
        aml_init(&b);
        aml_name_string(&b, bad[i]);
        expect_error(&b, "invalid AML name");
        ck_assert_uint_eq(b.len, 0);
        aml_free(&b);
    }
}
END_TEST

START_TEST(integers)
{
    struct aml_buf b;
    aml_init(&b);
    aml_integer(&b, 0);
    aml_integer(&b, 1);
    aml_integer(&b, UINT64_MAX);
    aml_integer(&b, 2);
    aml_integer(&b, 0xFF);
    aml_integer(&b, 0x100);
    aml_integer(&b, 0xFFFF);
    aml_integer(&b, 0x10000);
    aml_integer(&b, 0x100000000ULL);
    aml_dword_const(&b, 7);
    EXPECT_BYTES(&b, 0x00, 0x01, 0xFF, 0x0A, 0x02, 0x0A, 0xFF, 0x0B, 0x00, 0x01, 0x0B, 0xFF,
                 0xFF, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
                 0x00, 0x00, 0x0C, 0x07, 0x00, 0x00, 0x00);
    aml_free(&b);
}
END_TEST

START_TEST(strings)
{
    struct aml_buf b;
    aml_init(&b);
    aml_string(&b, "ab");
    aml_string(&b, "");
    EXPECT_BYTES(&b, 0x0D, 'a', 'b', 0x00, 0x0D, 0x00);
    aml_free(&b);

    aml_init(&b);
    aml_string(&b, "line\n");
    expect_error(&b, "non-printable");
    aml_free(&b);
}
END_TEST

START_TEST(eisaid)
{
    struct aml_buf b;
    aml_init(&b);
    ck_assert_uint_eq(aml_eisaid_value(&b, "PNP0501"), 0x0105D041);
    ck_assert_uint_eq(aml_eisaid_value(&b, "PNP0303"), 0x0303D041);
    ck_assert_uint_eq(aml_eisaid_value(&b, "PNP0A03"), 0x030AD041);
    aml_eisaid(&b, "PNP0501");
    EXPECT_BYTES(&b, 0x0C, 0x41, 0xD0, 0x05, 0x01);
    aml_free(&b);

    static const char *const bad[] = {"pnp0501", "PNP050G", "PNP05011", "PN0501", "P1P0501"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        aml_init(&b);
        aml_eisaid(&b, bad[i]);
        expect_error(&b, "invalid EISA id");
        aml_free(&b);
    }
}
END_TEST

START_TEST(name_device_scope_method)
{
    struct aml_buf b;
    aml_init(&b);
    size_t dev = aml_device_begin(&b, "COM1");
    aml_name(&b, "_UID");
    aml_integer(&b, 1);
    aml_end(&b, dev);
    /* Body: NameSeg (4) + Name op, NameSeg, One (6) = 10; PkgLength 11. */
    EXPECT_BYTES(&b, 0x5B, 0x82, 0x0B, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x01);
    aml_free(&b);

    aml_init(&b);
    size_t m = aml_method_begin(&b, "_STA", 0, false);
    aml_return(&b);
    aml_integer(&b, 0x0F);
    aml_end(&b, m);
    EXPECT_BYTES(&b, 0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xA4, 0x0A, 0x0F);
    aml_free(&b);

    aml_init(&b);
    m = aml_method_begin(&b, "FOO", 2, true);
    aml_end(&b, m);
    EXPECT_BYTES(&b, 0x14, 0x06, 'F', 'O', 'O', '_', 0x0A);
    aml_free(&b);

    aml_init(&b);
    size_t s = aml_scope_begin(&b, "\\_SB");
    aml_name(&b, "X");
    aml_integer(&b, 0);
    aml_end(&b, s);
    EXPECT_BYTES(&b, 0x10, 0x0C, 0x5C, '_', 'S', 'B', '_', 0x08, 'X', '_', '_', '_', 0x00);
    aml_free(&b);
}
END_TEST

START_TEST(package_and_buffer)
{
    struct aml_buf b;
    aml_init(&b);
    aml_name(&b, "\\_S5");
    size_t p = aml_package_begin(&b, 2);
    aml_integer(&b, 5);
    aml_integer(&b, 5);
    aml_end(&b, p);
    EXPECT_BYTES(&b, 0x08, 0x5C, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0A, 0x05, 0x0A, 0x05);
    aml_free(&b);

    aml_init(&b);
    aml_buffer(&b, (const uint8_t[]){1, 2, 3}, 3);
    EXPECT_BYTES(&b, 0x11, 0x06, 0x0A, 0x03, 0x01, 0x02, 0x03);
    aml_free(&b);
}
END_TEST

START_TEST(nesting_errors)
{
    struct aml_buf b;
    aml_init(&b);
    aml_device_begin(&b, "DEV0");
    expect_error(&b, "never closed");
    aml_free(&b);

    aml_init(&b);
    size_t outer = aml_scope_begin(&b, "\\_SB");
    aml_device_begin(&b, "DEV0");
    aml_end(&b, outer);
    expect_error(&b, "innermost");
    aml_free(&b);

    aml_init(&b);
    aml_method_begin(&b, "M", 8, false);
    expect_error(&b, "at most 7");
    aml_free(&b);

    /* After an error nothing more is written. */
    aml_init(&b);
    aml_name_string(&b, "bad");
    size_t before = b.len;
    aml_integer(&b, 5);
    ck_assert_uint_eq(b.len, before);
    aml_free(&b);
}
END_TEST

START_TEST(resource_descriptors)
{
    struct aml_buf r;
    aml_init(&r);
    aml_res_io(&r, 0x3F8, 8);
    EXPECT_BYTES(&r, 0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08);
    aml_free(&r);

    aml_init(&r);
    aml_res_irq(&r, 4);
    aml_res_irq_flags(&r, 9, true, true, true);
    aml_res_irq_flags(&r, 1, false, false, false);
    EXPECT_BYTES(&r, 0x22, 0x10, 0x00, 0x23, 0x00, 0x02, 0x18, 0x23, 0x02, 0x00, 0x01);
    aml_free(&r);

    aml_init(&r);
    aml_res_memory32_fixed(&r, 0xD0000000, 0x1000, true);
    aml_res_memory32_fixed(&r, 0x12345678, 0x10, false);
    EXPECT_BYTES(&r, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x10, 0x00, 0x00,
                 0x86, 0x09, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12, 0x10, 0x00, 0x00, 0x00);
    aml_free(&r);

    aml_init(&r);
    aml_res_ext_irq(&r, 16, false, false, false);
    aml_res_ext_irq(&r, 0x123, true, true, true);
    EXPECT_BYTES(&r, 0x89, 0x06, 0x00, 0x03, 0x01, 0x10, 0x00, 0x00, 0x00, 0x89, 0x06, 0x00,
                 0x0D, 0x01, 0x23, 0x01, 0x00, 0x00);
    aml_free(&r);

    aml_init(&r);
    aml_res_irq(&r, 16);
    expect_error(&r, "only IRQs 0-15");
    aml_free(&r);
}
END_TEST

START_TEST(resource_template_end_tag_checksum)
{
    struct aml_buf b, r;
    aml_init(&b);
    aml_init(&r);
    aml_res_io(&r, 0x3F8, 8);
    aml_res_irq(&r, 4);
    aml_resource_template(&b, &r);
    /* Descriptors sum to 0x279, plus the end tag 0x79 = 0x2F2: the
     * checksum is 0x100 - 0xF2 = 0x0E. 13 bytes of data, PkgLength 16. */
    EXPECT_BYTES(&b, 0x11, 0x10, 0x0A, 0x0D, 0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08,
                 0x22, 0x10, 0x00, 0x79, 0x0E);
    uint8_t sum = 0;
    for (size_t i = 0; i < r.len; i++)
        sum = (uint8_t)(sum + r.data[i]);
    ck_assert_uint_eq(sum, 0);
    aml_free(&b);
    aml_free(&r);

    /* An error in the descriptors reaches the enclosing AML. */
    aml_init(&b);
    aml_init(&r);
    aml_res_irq(&r, 20);
    aml_resource_template(&b, &r);
    expect_error(&b, "resource template");
    aml_free(&b);
    aml_free(&r);
}
END_TEST

START_TEST(large_object_uses_wide_pkglen)
{
    struct aml_buf b;
    aml_init(&b);
    package_with_body(&b, 0x100000); /* + 4 bytes of PkgLength */
    ck_assert_uint_eq(b.len, 1 + 4 + 0x100000);
    uint32_t total = 0x100004;
    ck_assert_uint_eq(b.data[1], 0xC0 | (total & 0xF));
    ck_assert_uint_eq(b.data[2], (total >> 4) & 0xFF);
    ck_assert_uint_eq(b.data[3], (total >> 12) & 0xFF);
    ck_assert_uint_eq(b.data[4], (total >> 20) & 0xFF);
    aml_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("aml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pkglen_encoding_boundaries);
    tcase_add_test(tc, pkglen_counts_its_own_bytes);
    tcase_add_test(tc, name_strings);
    tcase_add_test(tc, invalid_names_are_errors);
    tcase_add_test(tc, integers);
    tcase_add_test(tc, strings);
    tcase_add_test(tc, eisaid);
    tcase_add_test(tc, name_device_scope_method);
    tcase_add_test(tc, package_and_buffer);
    tcase_add_test(tc, nesting_errors);
    tcase_add_test(tc, resource_descriptors);
    tcase_add_test(tc, resource_template_end_tag_checksum);
    tcase_add_test(tc, large_object_uses_wide_pkglen);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
