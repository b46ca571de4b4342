/* test_labels.c - the labels CSV reader (src/study/labels.c): column order,
 * extra and optional columns, line ends, byte-order mark, quoting, blanks,
 * wide headers, duplicates, and each kind of bad file with the status and
 * reason it gives. Files go to a fresh tu_tmpdir(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* cs_labels_read_column (eval's reader) expecting success. */
static cs_labels read_col_ok(const char *text, const char *column)
{
    cs_labels l;
    cs_error err = {0};
    cs_status st = cs_labels_read_column(csv(text), column, &l, &err);
    if (st != CS_OK)
        fail_msg("unexpected error %d: %s", st, err.msg);
    return l;
}

/* cs_labels_read_column expecting `want`; returns the reason. */
static const char *read_col_fails(const char *text, const char *column, cs_status want)
{
    static cs_error err;
    cs_labels l;
    memset(&l, 0xA5, sizeof l);
    memset(&err, 0, sizeof err);
    assert_int_equal(cs_labels_read_column(csv(text), column, &l, &err), want);
    assert_int_equal(err.code, want);
    assert_true(strlen(err.msg) > 0);
    assert_null(l.items);
    assert_int_equal(l.n, 0);
    return err.msg;
}

/* cs_labels_parse on a buffer named "L", expecting `want`. */
static const char *parse_fails(const char *text, size_t len, const char *column, unsigned flags,
                               cs_status want)
{
    static cs_error err;
    cs_labels l;
    memset(&l, 0xA5, sizeof l);
    memset(&err, 0, sizeof err);
    assert_int_equal(cs_labels_parse(text, len, "L", column, flags, &l, &err), want);
    assert_int_equal(err.code, want);
    assert_true(strlen(err.msg) > 0);
    assert_null(l.items);
    assert_int_equal(l.n, 0);
    return err.msg;
}

/* A growing text buffer for generated CSVs. */
typedef struct gen {
    char *s;
    size_t len, cap;
} gen;

static void add(gen *t, const char *fmt, ...) CS_PRINTF(2, 3);
static void add(gen *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (t->s && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
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
    read_fails("\n\r\n  \t\n", CS_ERR_EMPTY); /* blank lines only */
    /* a header alone is an empty list, not an error */
    cs_labels l = read_col_ok("file,polyp\r\n", "polyp");
    assert_int_equal(l.n, 0);
    cs_labels_free(&l);
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

/* Fault 1: Excel's "CSV UTF-8" starts with a byte-order mark. */
static void test_utf8_bom_is_skipped(void **state)
{
    (void)state;
    cs_labels l = read_ok("\xEF\xBB\xBF"
                          "file,bleeding\r\na.jpg,1\r\n");
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].file, "a.jpg");
    assert_int_equal(l.items[0].bleeding, 1);
    cs_labels_free(&l);
    l = read_col_ok("\xEF\xBB\xBF\"file\",\"polyp\"\nb.jpg,0\n", "polyp");
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].file, "b.jpg");
    cs_labels_free(&l);
    read_fails("\xEF\xBB\xBF", CS_ERR_EMPTY); /* a mark and nothing else */
    /* UTF-16 is named, not misread */
    const char *msg = parse_fails("\xFF\xFE"
                                  "f\0i\0",
                                  6, "polyp", 0, CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "UTF-16"));
    msg = parse_fails("file,polyp\na\0.jpg,1\n", 20, "polyp", 0, CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "L:2:"));
}

/* Fault 2: RFC 4180 quoting within a line. */
static void test_quoted_fields_are_unquoted(void **state)
{
    (void)state;
    cs_labels l = read_col_ok("\"file\",\"notes\",\"polyp\"\n"
                              "\"a,b.jpg\",\"x, y\",\"1\"\n"
                              "\"say \"\"hi\"\".jpg\",,0\n"
                              "plain\"quote.jpg,\"\",1\n"
                              " \"c.jpg\" ,\"\"\"\", 0\n",
                              "polyp");
    assert_int_equal(l.n, 4);
    assert_string_equal(l.items[0].file, "a,b.jpg");
    assert_int_equal(l.items[0].value, 1);
    assert_string_equal(l.items[1].file, "say \"hi\".jpg");
    assert_int_equal(l.items[1].value, 0);
    assert_string_equal(l.items[2].file, "plain\"quote.jpg");
    assert_string_equal(l.items[3].file, "c.jpg");
    assert_int_equal(l.items[3].value, 0);
    cs_labels_free(&l);
    /* blanks inside quotes are data */
    l = read_col_ok("file,polyp\n\" d.jpg \",1\n", "polyp");
    assert_string_equal(l.items[0].file, " d.jpg ");
    cs_labels_free(&l);
}

static void test_bad_quoting_is_an_error_naming_its_line(void **state)
{
    (void)state;
    const char *msg = read_col_fails("file,polyp\na.jpg,1\n\"b.jpg,0\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":3:"));
    assert_non_null(strstr(msg, "quote"));
    /* a line break inside a quoted field is not supported */
    msg = read_col_fails("file,polyp\n\"a\nb.jpg\",1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":2:"));
    assert_non_null(strstr(msg, "quote"));
    msg = read_col_fails("file,polyp\n\"a.jpg\"x,1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":2:"));
    msg = read_col_fails("\"file,polyp\na.jpg,1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":1:"));
    read_col_fails("file,polyp\na.jpg,\"1\n", "polyp", CS_ERR_CORRUPT);
    /* a quoted value is still only 0 or 1 */
    read_col_fails("file,polyp\na.jpg,\" 1\"\n", "polyp", CS_ERR_CORRUPT);
}

/* Fault 3: blanks around fields. */
static void test_spaces_and_tabs_around_fields_are_trimmed(void **state)
{
    (void)state;
    cs_labels l = read_ok(" file ,\tbleeding\t, group\n"
                          "  a b.jpg ,\t1 , 4\t\n"
                          "c.jpg,0 ,5\n");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].file, "a b.jpg");
    assert_int_equal(l.items[0].bleeding, 1);
    assert_int_equal(l.items[0].group, 4);
    assert_string_equal(l.items[1].file, "c.jpg");
    assert_int_equal(l.items[1].bleeding, 0);
    cs_labels_free(&l);
    const char *msg = read_fails("file,bleeding\n \t,1\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "empty file name"));
    /* a line of blanks only is a blank line */
    l = read_ok("file,bleeding\n \t \na.jpg,1\n");
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].line, 3);
    cs_labels_free(&l);
}

/* Fault 4: no fixed limit of 64 columns; an explicit one at 4096. */
static void test_needed_column_after_column_64_is_found(void **state)
{
    (void)state;
    gen t = {0};
    for (int i = 0; i < 100; i++)
        add(&t, "x%d,", i);
    add(&t, "file,polyp\n");
    for (int i = 0; i < 100; i++)
        add(&t, "%d,", i);
    add(&t, "a.jpg,1\n");
    cs_labels l = read_col_ok(t.s, "polyp");
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].file, "a.jpg");
    assert_int_equal(l.items[0].value, 1);
    cs_labels_free(&l);
    free(t.s);
}

static void test_more_than_4096_columns_is_an_error(void **state)
{
    (void)state;
    gen t = {0};
    for (int i = 0; i < CS_LABELS_MAX_COLUMNS - 2; i++)
        add(&t, "x%d,", i);
    add(&t, "file,polyp\n");
    for (int i = 0; i < CS_LABELS_MAX_COLUMNS - 2; i++)
        add(&t, ",");
    add(&t, "a.jpg,0\n");
    cs_labels l = read_col_ok(t.s, "polyp"); /* exactly 4096: fine */
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].value, 0);
    cs_labels_free(&l);
    t.len = 0;
    for (int i = 0; i < CS_LABELS_MAX_COLUMNS - 1; i++)
        add(&t, "x%d,", i);
    add(&t, "file,polyp\na.jpg,1\n");
    const char *msg = read_col_fails(t.s, "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":1:"));
    assert_non_null(strstr(msg, "4096"));
    free(t.s);
}

/* Fault 5: a header error says what is missing and shows the header. */
static void test_header_error_names_the_missing_column_and_shows_it(void **state)
{
    (void)state;
    const char *msg = read_col_fails("file,label\na.jpg,1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "no 'polyp' column"));
    assert_null(strstr(msg, "'file'"));
    assert_non_null(strstr(msg, "\"file,label\""));
    msg = read_col_fails("name,polyp\na.jpg,1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "no 'file' column"));
    assert_non_null(strstr(msg, "\"name,polyp\""));
    msg = read_col_fails("a,b\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "'file'"));
    assert_non_null(strstr(msg, "'polyp'"));
    /* a long header is cut, and control bytes are not copied */
    gen t = {0};
    add(&t, "file,\x1b");
    for (int i = 0; i < 60; i++)
        add(&t, "col%02d,", i);
    add(&t, "\n");
    msg = parse_fails(t.s, t.len, "polyp", 0, CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "L:1: header has no 'polyp' column"));
    assert_non_null(strstr(msg, "\"file,?col00,col01,"));
    assert_non_null(strstr(msg, "...\""));
    assert_null(strstr(msg, "col59"));
    assert_null(strchr(msg, '\x1b'));
    free(t.s);
    /* the same column named twice */
    msg = read_col_fails("file,polyp,polyp\na.jpg,1,1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "twice"));
}

static void test_header_error_spots_semicolons_and_tabs(void **state)
{
    (void)state;
    const char *msg = read_col_fails("file;polyp\na.jpg;1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "comma-separated"));
    assert_non_null(strstr(msg, "';'"));
    assert_non_null(strstr(msg, "\"file;polyp\""));
    msg = read_fails("file\tbleeding\na.jpg\t1\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "comma-separated"));
    assert_non_null(strstr(msg, "tab"));
    /* with commas it is no separator problem */
    msg = read_col_fails("file,a;b\n", "polyp", CS_ERR_CORRUPT);
    assert_null(strstr(msg, "comma-separated"));
}

/* Fault 6: every kind of line end, and the buffer parser. */
static void test_cr_only_and_crlf_line_ends_are_accepted(void **state)
{
    (void)state;
    cs_labels l = read_ok("file,bleeding,group\ra.jpg,1,3\rb.jpg,0,4\r");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].file, "a.jpg");
    assert_int_equal(l.items[0].group, 3);
    assert_int_equal(l.items[0].line, 2);
    assert_string_equal(l.items[1].file, "b.jpg");
    assert_int_equal(l.items[1].group, 4);
    assert_int_equal(l.items[1].line, 3);
    cs_labels_free(&l);
    /* a file with LF line ends: CRLF is one line end, and a CR inside a
     * line (fields joined from a CRLF file: "13\r,seen") is trimmed like
     * a blank, not taken for a line end */
    l = read_ok("file,bleeding,group,note\na.jpg,1,13\r,seen\r\nb.jpg,0,4 \r\n\r\nc.jpg,1,5\n");
    assert_int_equal(l.n, 3);
    assert_int_equal(l.items[0].group, 13);
    assert_int_equal(l.items[0].bleeding, 1);
    assert_int_equal(l.items[1].group, 4);
    assert_int_equal(l.items[2].line, 5);
    cs_labels_free(&l);
    const char *msg = read_fails("file,bleeding\ra.jpg,1\rb.jpg,x\r", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":3:"));
}

static void test_parse_reads_only_len_bytes(void **state)
{
    (void)state;
    static const char buf[] = "file,polyp\na.jpg,1\nb.jpg,oops\n";
    cs_labels l;
    cs_error err = {0};
    assert_int_equal(cs_labels_parse(buf, 18, NULL, "polyp", 0, &l, &err), CS_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].file, "a.jpg");
    assert_int_equal(l.items[0].group, -1);
    cs_labels_free(&l);
    const char *msg = parse_fails(buf, sizeof buf - 1, "polyp", 0, CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "L:3:"));
    assert_non_null(strstr(msg, "'oops'"));
    parse_fails(NULL, 0, "polyp", 0, CS_ERR_EMPTY);
    parse_fails(buf, sizeof buf - 1, "file", 0, CS_ERR_ARG);
    parse_fails(buf, sizeof buf - 1, "", 0, CS_ERR_ARG);
    parse_fails(buf, sizeof buf - 1, "group", CS_LABELS_GROUP, CS_ERR_ARG);
    parse_fails(buf, sizeof buf - 1, "polyp", 0x80, CS_ERR_ARG);
}

static void test_file_over_64_mib_is_refused(void **state)
{
    (void)state;
    const char *path = csv("file,polyp\n");
    assert_int_equal(truncate(path, (off_t)CS_LABELS_MAX_BYTES + 1), 0); /* sparse */
    cs_labels l;
    cs_error err = {0};
    memset(&l, 0xA5, sizeof l);
    assert_int_equal(cs_labels_read_column(path, "polyp", &l, &err), CS_ERR_TOO_LARGE);
    assert_non_null(strstr(err.msg, "64 MiB"));
    assert_null(l.items);
    assert_int_equal(l.n, 0);
}

/* Fault 7: only the training reader reads (and needs) `group`. */
/* A float column (pandas, spreadsheets) writes 1.0 and 0.0: the same
 * labels; any other number or word is still an error naming its line. */
static void test_float_written_labels_are_read(void **state)
{
    (void)state;
    cs_labels l =
        read_col_ok("file,polyp\na.jpg,1.0\nb.jpg,0.0\nc.jpg,1.\nd.jpg,\"0.000\"\n", "polyp");
    assert_int_equal(l.n, 4);
    assert_int_equal(l.items[0].value, 1);
    assert_int_equal(l.items[1].value, 0);
    assert_int_equal(l.items[2].value, 1);
    assert_int_equal(l.items[3].value, 0);
    cs_labels_free(&l);
    static const char *const bad[] = {"0.5", "1.01", "01", "+1", "1e0", "true", ".0", "1.0x", "10"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char csv[64];
        snprintf(csv, sizeof csv, "file,polyp\na.jpg,1\nb.jpg,%s\n", bad[i]);
        const char *msg = read_col_fails(csv, "polyp", CS_ERR_CORRUPT);
        assert_non_null(strstr(msg, ":3:"));
    }
}

static void test_eval_reader_ignores_group(void **state)
{
    (void)state;
    cs_labels l = read_col_ok("file,polyp,group\na.jpg,1\nb.jpg,0,x\nc.jpg,1,7\n", "polyp");
    assert_int_equal(l.n, 3);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.items[i].group, -1);
    assert_int_equal(l.items[0].value, 1);
    assert_int_equal(l.items[1].value, 0);
    cs_labels_free(&l);
    l = read_col_ok("group,file,bleeding\n,a.jpg,1\n", "bleeding");
    assert_int_equal(l.items[0].group, -1);
    cs_labels_free(&l);
}

static void test_training_reader_needs_a_whole_group(void **state)
{
    (void)state;
    const char *msg = read_fails("file,bleeding,group\na.jpg,1,2\nb.jpg,1\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":3:"));
    assert_non_null(strstr(msg, "at least 3 columns"));
    msg = read_fails("file,bleeding,group\na.jpg,1,x\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":2:"));
    assert_non_null(strstr(msg, "group"));
    read_fails("file,bleeding,group\na.jpg,1,-1\n", CS_ERR_CORRUPT);
    read_fails("file,bleeding,group\na.jpg,1,\n", CS_ERR_CORRUPT);
    read_fails("file,bleeding,group\na.jpg,1,99999999999999999999999\n", CS_ERR_CORRUPT);
    cs_labels l = read_ok("file,bleeding,group\na.jpg,1,0\nb.jpg,0,\"12\"\n");
    assert_int_equal(l.items[0].group, 0);
    assert_int_equal(l.items[1].group, 12);
    cs_labels_free(&l);
}

/* Fault 8: a file listed twice. */
static void test_file_listed_twice_is_an_error_naming_both_lines(void **state)
{
    (void)state;
    const char *msg =
        read_col_fails("file,polyp\na.jpg,1\nb.jpg,0\n\na.jpg,1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, ":5:"));
    assert_non_null(strstr(msg, "'a.jpg'"));
    assert_non_null(strstr(msg, "lines 2 and 5"));
    /* the earliest repeat is named, however the names sort */
    msg =
        read_fails("file,bleeding\nz.jpg,1\nb.jpg,0\nz.jpg,1\nb.jpg,0\nz.jpg,0\n", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "'z.jpg'"));
    assert_non_null(strstr(msg, "lines 2 and 4"));
    /* quoting and blanks do not hide a repeat; case does differ */
    msg = read_col_fails("file,polyp\n\"a.jpg\",1\n a.jpg ,1\n", "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "lines 2 and 3"));
    cs_labels l = read_col_ok("file,polyp\na.jpg,1\nA.jpg,1\n", "polyp");
    assert_int_equal(l.n, 2);
    cs_labels_free(&l);
}

static void test_many_rows_with_one_repeat_at_the_end(void **state)
{
    (void)state;
    gen t = {0};
    add(&t, "file,polyp\n");
    for (int i = 0; i < 20000; i++)
        add(&t, "f%05d.jpg,%d\n", (i * 7919) % 20000, i & 1);
    cs_labels l = read_col_ok(t.s, "polyp");
    assert_int_equal(l.n, 20000);
    assert_int_equal(l.items[19999].line, 20001);
    cs_labels_free(&l);
    add(&t, "f00007.jpg,1\n");
    const char *msg = read_col_fails(t.s, "polyp", CS_ERR_CORRUPT);
    assert_non_null(strstr(msg, "'f00007.jpg'"));
    assert_non_null(strstr(msg, ":20002:"));
    free(t.s);
}

/* The shared data sets' labels still read, with no repeats. */
static void test_shared_labels_read(void **state)
{
    (void)state;
    if (!tu_have_shared())
        skip();
    cs_labels l;
    cs_error err = {0};
    if (cs_labels_read(tu_shared_path("data/wcebleedgen/labels.csv"), &l, &err) != CS_OK)
        fail_msg("%s", err.msg);
    assert_true(l.n > 1000);
    for (size_t i = 0; i < l.n; i++) {
        assert_true(l.items[i].group >= 0);
        assert_int_equal(l.items[i].line, (long)i + 2);
    }
    cs_labels_free(&l);
    if (cs_labels_read_column(tu_shared_path("data/wcebleedgen/labels.csv"), "bleeding", &l,
                              &err) != CS_OK)
        fail_msg("%s", err.msg);
    assert_true(l.n > 1000);
    cs_labels_free(&l);
    /* Kvasir-SEG's labels.csv (file,width,height,group) has no 0/1 column:
     * its header reads, and the message says what is missing. */
    memset(&err, 0, sizeof err);
    assert_int_equal(
        cs_labels_read_column(tu_shared_path("data/kvasir-seg/labels.csv"), "polyp", &l, &err),
        CS_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "no 'polyp' column"));
    assert_non_null(strstr(err.msg, "\"file,width,height,group\""));
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
        cmocka_unit_test(test_utf8_bom_is_skipped),
        cmocka_unit_test(test_quoted_fields_are_unquoted),
        cmocka_unit_test(test_bad_quoting_is_an_error_naming_its_line),
        cmocka_unit_test(test_spaces_and_tabs_around_fields_are_trimmed),
        cmocka_unit_test(test_needed_column_after_column_64_is_found),
        cmocka_unit_test(test_more_than_4096_columns_is_an_error),
        cmocka_unit_test(test_header_error_names_the_missing_column_and_shows_it),
        cmocka_unit_test(test_header_error_spots_semicolons_and_tabs),
        cmocka_unit_test(test_cr_only_and_crlf_line_ends_are_accepted),
        cmocka_unit_test(test_parse_reads_only_len_bytes),
        cmocka_unit_test(test_file_over_64_mib_is_refused),
        cmocka_unit_test(test_float_written_labels_are_read),
        cmocka_unit_test(test_eval_reader_ignores_group),
        cmocka_unit_test(test_training_reader_needs_a_whole_group),
        cmocka_unit_test(test_file_listed_twice_is_an_error_naming_both_lines),
        cmocka_unit_test(test_many_rows_with_one_repeat_at_the_end),
        cmocka_unit_test(test_shared_labels_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
