/* test_labels.c - the labels CSV reader (src/study/labels.c): column order,
 * extra and optional columns, line ends, and each kind of bad file with the
 * status and reason it gives. Files go to a fresh tu_tmpdir(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capscreen/labels.h"
#include "testutil.h"

/* Write `text` to a new file and return its path (static buffer). */
static const char *csv(const char *text)
{
    static char dir[4096], path[4200];
    static int n;
    if (!dir[0]) {
        const char *d = tu_tmpdir();
        assert_non_null(d);
        snprintf(dir, sizeof dir, "%s", d);
    }
    snprintf(path, sizeof path, "%s/labels-%d.csv", dir, n++);
    assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
    return path;
}

/* Read expecting success. */
static cs_labels read_ok(const char *text)
{
    cs_labels l;
    cs_error err = {0};
    cs_status st = cs_labels_read(csv(text), &l, &err);
    if (st != CS_OK)
        fail_msg("unexpected error %d: %s", st, err.msg);
    return l;
}

/* Read expecting `want`; returns the reason (static copy). */
static const char *read_fails(const char *text, cs_status want)
{
    static cs_error err;
    cs_labels l;
    memset(&l, 0xA5, sizeof l);
    memset(&err, 0, sizeof err);
    assert_int_equal(cs_labels_read(csv(text), &l, &err), want);
    assert_int_equal(err.code, want);
    assert_true(strlen(err.msg) > 0);
    assert_null(l.items);
    assert_int_equal(l.n, 0);
    return err.msg;
}

static void test_plain_file_bleeding_reads_in_order(void **state)
{
    (void)state;
    cs_labels l = read_ok("file,bleeding\na.jpg,0\nb.jpg,1\nc.jpg,1\n");
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0].file, "a.jpg");
    assert_string_equal(l.items[2].file, "c.jpg");
    assert_int_equal(l.items[0].bleeding, 0);
    assert_int_equal(l.items[1].bleeding, 1);
    assert_int_equal(l.items[2].bleeding, 1);
    assert_int_equal(l.items[0].group, -1); /* no group column */
    cs_labels_free(&l);
    assert_null(l.items);
    assert_int_equal(l.n, 0);
    cs_labels_free(&l); /* a freed list may be freed again */
}

static void test_columns_in_any_order_with_extras(void **state)
{
    (void)state;
    cs_labels l = read_ok("notes,group,bleeding,source,file\n"
                          "looks red,7,1,cam2,x/y/f1.jpg\n"
                          ",12,0,,f2.png\n");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].file, "x/y/f1.jpg");
    assert_int_equal(l.items[0].bleeding, 1);
    assert_int_equal(l.items[0].group, 7);
    assert_string_equal(l.items[1].file, "f2.png");
    assert_int_equal(l.items[1].bleeding, 0);
    assert_int_equal(l.items[1].group, 12);
    cs_labels_free(&l);
}

static void test_crlf_line_ends_are_accepted(void **state)
{
    (void)state;
    cs_labels l = read_ok("file,bleeding,group\r\na.jpg,1,3\r\nb.jpg,0,4\r\n");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].file, "a.jpg");
    assert_int_equal(l.items[0].bleeding, 1);
    assert_int_equal(l.items[0].group, 3);
    assert_string_equal(l.items[1].file, "b.jpg");
    assert_int_equal(l.items[1].bleeding, 0);
    assert_int_equal(l.items[1].group, 4);
    cs_labels_free(&l);
}

static void test_blank_trailing_lines_and_no_final_newline_are_ok(void **state)
{
    (void)state;
    cs_labels l = read_ok("file,bleeding\na.jpg,1\n\n\r\n");
    assert_int_equal(l.n, 1);
    cs_labels_free(&l);
    l = read_ok("file,bleeding\na.jpg,1\nb.jpg,0");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[1].file, "b.jpg");
    assert_int_equal(l.items[1].bleeding, 0);
    cs_labels_free(&l);
}

static void test_many_rows_are_all_kept(void **state)
{
    (void)state;
    /* More rows than the reader's first allocation. */
    size_t cap = 64 * 1024, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "file,bleeding,group\n");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(text + len, cap - len, "f%04d.jpg,%d,%d\n", i, i % 3 == 0, i / 10);
    cs_labels l = read_ok(text);
    free(text);
    assert_int_equal(l.n, 1000);
    assert_string_equal(l.items[999].file, "f0999.jpg");
    assert_int_equal(l.items[999].bleeding, 1);
    assert_int_equal(l.items[999].group, 99);
    assert_int_equal(l.items[998].bleeding, 0);
    cs_labels_free(&l);
}

static void test_missing_bleeding_column_is_an_error(void **state)
{
    (void)state;
    const char *msg = read_fails("file,label\na.jpg,1\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "bleeding"));
    read_fails("bleeding,group\n1,2\n", CS_ERR_CORRUPT); /* no file column */
}

static void test_bad_value_is_an_error_naming_its_line(void **state)
{
    (void)state;
    const char *msg = read_fails("file,bleeding\na.jpg,1\nb.jpg,2\nc.jpg,0\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":3:"));
    assert_non_null(strstr(msg, "'2'"));
    msg = read_fails("file,bleeding\na.jpg,yes\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":2:"));
    read_fails("file,bleeding\na.jpg,\n", CS_ERR_CORRUPT);
    read_fails("file,bleeding\na.jpg,01\n", CS_ERR_CORRUPT);
}

static void test_short_row_and_empty_name_are_errors(void **state)
{
    (void)state;
    const char *msg = read_fails("file,group,bleeding\na.jpg,1,0\nb.jpg,2\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":3:"));
    msg = read_fails("file,bleeding\n,1\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":2:"));
}

static void test_empty_file_is_empty(void **state)
{
    (void)state;
    read_fails("", CS_ERR_EMPTY);
}

static void test_missing_file_is_io_error(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/none.csv", dir);
    cs_labels l;
    cs_error err = {0};
    memset(&l, 0xA5, sizeof l);
    assert_int_equal(cs_labels_read(path, &l, &err), CS_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_null(l.items);
    assert_int_equal(l.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_file_bleeding_reads_in_order),
        cmocka_unit_test(test_columns_in_any_order_with_extras),
        cmocka_unit_test(test_crlf_line_ends_are_accepted),
        cmocka_unit_test(test_blank_trailing_lines_and_no_final_newline_are_ok),
        cmocka_unit_test(test_many_rows_are_all_kept),
        cmocka_unit_test(test_missing_bleeding_column_is_an_error),
        cmocka_unit_test(test_bad_value_is_an_error_naming_its_line),
        cmocka_unit_test(test_short_row_and_empty_name_are_errors),
        cmocka_unit_test(test_empty_file_is_empty),
        cmocka_unit_test(test_missing_file_is_io_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
