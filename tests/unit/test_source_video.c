/* test_source_video.c - unit tests of the capsule-video source
 * (src/study/source_video.c) on small videos made at test time.
 *
 * Contract: needs the ffmpeg CLI on PATH to make its inputs (MP4/H.264,
 * AVI/MJPEG, MKV/H.264 with audio, MPEG-TS); without it the test prints why
 * and exits with CS_TEST_SKIP. Files go to a fresh tu_tmpdir(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "capscreen/framestream.h"
#include "capscreen/source.h"
#include "testutil.h"

static char tmp[4096];

static const char *tmp_path(const char *name)
{
    static char p[2][4200];
    static int which;
    which ^= 1;
    snprintf(p[which], sizeof p[which], "%s/%s", tmp, name);
    return p[which];
}

/* Run `ffmpeg -v error -y <args>` with output `out` (a name under tmp);
 * a stuck encoder is stopped after two minutes. */
static void make_video(const char *out, const char *args)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "timeout 120 ffmpeg -nostdin -v error -y %s '%s'", args,
             tmp_path(out));
    if (system(cmd) != 0)
        fail_msg("ffmpeg failed: %s", cmd);
}

static void write_file(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(tmp_path(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* What a whole pass over a video gave. */
typedef struct pass {
    int images, broken;
    int monotonic; /* image capture times non-decreasing, all >= 0 */
    int sizes_ok;  /* each image is cs_analysis_size of its source */
    int names_ok;  /* "frame <n>", frame_index n, n = 0, 1, ... */
    int first_w, first_h, last_src_w, last_src_h;
    cs_status broken_status;
    char broken_reason[256];
    int64_t first_time, last_time;
    double red_share, blue_share; /* of all image pixels */
    int64_t expected;
} pass;

static void run_pass(const char *name, pass *p)
{
    cs_source *src = NULL;
    cs_error err = {0};
    memset(p, 0, sizeof *p);
    p->monotonic = p->sizes_ok = p->names_ok = 1;
    p->first_time = p->last_time = -1;
    assert_int_equal(cs_source_open_video(tmp_path(name), &src, &err), CS_OK);
    assert_int_equal(cs_source_type_of(src), CS_SOURCE_VIDEO);
    p->expected = cs_source_expected(src);

    long long red = 0, blue = 0, pixels = 0;
    int64_t n = 0;
    cs_item item;
    cs_status s;
    while ((s = cs_source_next(src, &item, &err)) == CS_OK) {
        char want[64];
        snprintf(want, sizeof want, "frame %lld", (long long)n);
        if (strcmp(item.name, want) != 0 || item.frame_index != n)
            p->names_ok = 0;
        n++;
        if (item.kind == CS_ITEM_BROKEN) {
            p->broken++;
            p->broken_status = item.status;
            snprintf(p->broken_reason, sizeof p->broken_reason, "%s", item.reason);
            assert_true(item.reason[0] != '\0');
            assert_int_not_equal(item.status, CS_OK);
            cs_item_clear(&item);
            continue;
        }
        assert_int_equal(item.kind, CS_ITEM_IMAGE);
        const cs_image *im = &item.image;
        assert_non_null(im->rgb);
        int aw, ah;
        cs_analysis_size(im->src_width, im->src_height, &aw, &ah);
        if (im->width != aw || im->height != ah)
            p->sizes_ok = 0;
        if (p->images == 0) {
            p->first_w = im->width;
            p->first_h = im->height;
            p->first_time = item.capture_time_us;
        }
        p->last_src_w = im->src_width;
        p->last_src_h = im->src_height;
        if (item.capture_time_us < 0 || (p->images > 0 && item.capture_time_us < p->last_time))
            p->monotonic = 0;
        p->last_time = item.capture_time_us;
        for (size_t i = 0; i < (size_t)im->width * (size_t)im->height; i++) {
            const uint8_t *px = im->rgb + 3 * i;
            red += px[0] > 200 && px[1] < 60 && px[2] < 60;
            blue += px[2] > 200 && px[0] < 60 && px[1] < 60;
        }
        pixels += (long long)im->width * im->height;
        p->images++;
        cs_item_clear(&item);
    }
    assert_int_equal(s, CS_END);
    /* After the end the source stays at the end. */
    assert_int_equal(cs_source_next(src, &item, &err), CS_END);
    cs_source_close(src);
    p->red_share = pixels ? (double)red / (double)pixels : 0;
    p->blue_share = pixels ? (double)blue / (double)pixels : 0;
}

static void assert_clean_25(const char *name, int w, int h)
{
    pass p;
    run_pass(name, &p);
    int aw, ah;
    cs_analysis_size(w, h, &aw, &ah);
    assert_int_equal(p.images, 25);
    assert_int_equal(p.broken, 0);
    assert_int_equal(p.expected, 25);
    assert_true(p.names_ok);
    assert_true(p.sizes_ok);
    assert_int_equal(p.first_w, aw);
    assert_int_equal(p.first_h, ah);
    assert_int_equal(p.last_src_w, w);
    assert_int_equal(p.last_src_h, h);
    assert_true(p.monotonic);
    /* 25 frames at 10 frames/s: the last is 2.4 s after the first. */
    assert_int_equal(p.last_time - p.first_time, 2400000);
}

static void test_mp4_h264(void **state)
{
    (void)state;
    make_video("a.mp4", "-f lavfi -i testsrc=size=640x480:rate=10 "
                        "-frames:v 25 -c:v libx264 -pix_fmt yuv420p");
    assert_clean_25("a.mp4", 640, 480);
}

static void test_avi_mjpeg(void **state)
{
    (void)state;
    make_video("a.avi", "-f lavfi -i testsrc=size=320x240:rate=10 "
                        "-frames:v 25 -c:v mjpeg");
    assert_clean_25("a.avi", 320, 240);
}

static void test_mkv_with_audio(void **state)
{
    (void)state;
    /* An audio track first: the source must pick the video stream. */
    make_video("a.mkv", "-f lavfi -i sine=frequency=440:duration=2.5 "
                        "-f lavfi -i testsrc=size=352x288:rate=10:duration=2.5 "
                        "-map 0:a -map 1:v -c:v libx264 -pix_fmt yuv420p "
                        "-c:a flac");
    assert_clean_25("a.mkv", 352, 288);
}

static void test_colours(void **state)
{
    (void)state;
    pass p;
    make_video("red.mp4", "-f lavfi -i color=c=red:size=320x240:rate=10 "
                          "-frames:v 5 -c:v libx264 -pix_fmt yuv420p");
    run_pass("red.mp4", &p);
    assert_int_equal(p.images, 5);
    assert_true(p.red_share > 0.95);
    /* MJPEG is full-range YUV (yuvj420p): colours must survive too. */
    make_video("blue.avi", "-f lavfi -i color=c=blue:size=320x240:rate=10 "
                           "-frames:v 5 -c:v mjpeg");
    run_pass("blue.avi", &p);
    assert_int_equal(p.images, 5);
    assert_true(p.blue_share > 0.95);
}

/* Asked for a detail image (a polyp network wider than the analysis
 * image): each frame carries one at cs_scaled_size, and the analysis
 * image is the same bytes as without it. */
static void test_detail_image(void **state)
{
    (void)state;
    make_video("d.mp4", "-f lavfi -i testsrc=size=640x480:rate=10 "
                        "-frames:v 3 -c:v libx264 -pix_fmt yuv420p");
    cs_source *plain = NULL, *det = NULL;
    cs_error err = {0};
    assert_int_equal(cs_source_open_video(tmp_path("d.mp4"), &plain, &err), CS_OK);
    assert_int_equal(cs_source_open_video(tmp_path("d.mp4"), &det, &err), CS_OK);
    cs_source_want_detail(det, 130); /* more than the 160x120 analysis image */
    int dw, dh, n = 0;
    cs_scaled_size(640, 480, 130, &dw, &dh);
    cs_item a, b;
    while (cs_source_next(plain, &a, &err) == CS_OK) {
        assert_int_equal(cs_source_next(det, &b, &err), CS_OK);
        assert_null(a.image.detail_rgb);
        assert_non_null(b.image.detail_rgb);
        assert_int_equal(b.image.detail_width, dw);
        assert_int_equal(b.image.detail_height, dh);
        assert_true(dw > b.image.width);
        assert_int_equal(a.image.width, b.image.width);
        assert_memory_equal(a.image.rgb, b.image.rgb, (size_t)a.image.width * a.image.height * 3);
        cs_item_clear(&a);
        cs_item_clear(&b);
        n++;
    }
    assert_int_equal(n, 3);
    cs_source_close(plain);
    cs_source_close(det);
}

static void assert_open_fails(const char *name, cs_status want)
{
    cs_source *src = (cs_source *)&src; /* must come back NULL */
    cs_error err = {0};
    cs_status s = cs_source_open_video(tmp_path(name), &src, &err);
    printf("  %s -> %s: %s\n", name, cs_status_name(s), err.msg);
    assert_int_equal(s, want);
    assert_int_equal(err.code, want);
    assert_null(src);
    assert_true(err.msg[0] != '\0');
    assert_null(strchr(err.msg, '\n'));
}

static void test_not_a_video(void **state)
{
    (void)state;
    uint8_t noise[8192];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (uint8_t)(x >> 24);
    }
    write_file("noise.bin", noise, sizeof noise);
    const char *text = "file,bleeding\nframe1.jpg,0\nframe2.jpg,1\n";
    write_file("labels.txt", text, strlen(text));
    write_file("empty.mp4", "", 0);
    make_video("tone.wav", "-f lavfi -i sine=duration=1");

    assert_open_fails("noise.bin", CS_ERR_UNSUPPORTED);
    assert_open_fails("labels.txt", CS_ERR_UNSUPPORTED);
    assert_open_fails("empty.mp4", CS_ERR_EMPTY);
    assert_open_fails("tone.wav", CS_ERR_UNSUPPORTED);
    assert_open_fails("missing.mp4", CS_ERR_IO);
}

/* Keep the first half of `name`'s bytes as `half`. */
static void truncate_half(const char *name, const char *half)
{
    size_t len = 0;
    uint8_t *data = tu_read_file(tmp_path(name), &len);
    assert_non_null(data);
    write_file(half, data, len / 2);
    free(data);
}

static void test_truncated(void **state)
{
    (void)state;
    static const struct {
        const char *name, *args;
    } v[] = {
        {"t.mp4", "-c:v libx264 -pix_fmt yuv420p -movflags +faststart"},
        {"t.avi", "-c:v mjpeg"},
        {"t.mkv", "-c:v libx264 -pix_fmt yuv420p"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char args[512], half[64];
        snprintf(args, sizeof args, "-f lavfi -i testsrc=size=320x240:rate=10 -frames:v 50 %s",
                 v[i].args);
        make_video(v[i].name, args);
        snprintf(half, sizeof half, "half-%s", v[i].name);
        truncate_half(v[i].name, half);
        pass p;
        run_pass(half, &p);
        printf("  %s: %d frames, %d broken%s%s\n", half, p.images, p.broken,
               p.broken ? ", last: " : "", p.broken ? p.broken_reason : "");
        assert_true(p.images > 0 && p.images < 50);
        assert_true(p.names_ok && p.sizes_ok);
        /* MP4 and AVI list their frame count: the missing frames end the
         * study as one broken item, so the cut is not silent. */
        if (i < 2) {
            assert_int_equal(p.broken_status, CS_ERR_TRUNCATED);
            assert_non_null(strstr(p.broken_reason, "of the 50 frames its container lists"));
        }
    }
    /* An MP4 whose index (moov) was at the end has lost it: not openable. */
    make_video("tail.mp4", "-f lavfi -i testsrc=size=320x240:rate=10 "
                           "-frames:v 50 -c:v libx264 -pix_fmt yuv420p");
    truncate_half("tail.mp4", "half-tail.mp4");
    assert_open_fails("half-tail.mp4", CS_ERR_UNSUPPORTED);
}

/* An intact MP4 cut with -ss and -c copy keeps the packets from the
 * keyframe before the cut and an edit list that drops the first of them:
 * the container lists 50 frames, 37 are shown. Nothing is missing, so
 * the study must not end with a `truncated` item (packets are counted,
 * not decoded frames). */
static void test_edit_list_is_not_truncation(void **state)
{
    (void)state;
    make_video("keyed.mp4", "-f lavfi -i testsrc=size=320x240:rate=10 -frames:v 50 "
                            "-c:v libx264 -g 25 -pix_fmt yuv420p");
    char args[4200];
    snprintf(args, sizeof args, "-ss 1.3 -i '%s' -c copy", tmp_path("keyed.mp4"));
    make_video("edited.mp4", args);
    pass p;
    run_pass("edited.mp4", &p);
    printf("  edited.mp4: %d frames, %d broken%s%s\n", p.images, p.broken,
           p.broken ? ", last: " : "", p.broken ? p.broken_reason : "");
    assert_true(p.images > 0 && p.images < 50);
    assert_int_equal(p.broken, 0);
}

/* Wipe the start of the 13th JPEG in an MJPEG AVI: that frame is broken,
 * the rest decode, and every frame keeps its number. */
static void test_damaged_packet(void **state)
{
    (void)state;
    make_video("d.avi", "-f lavfi -i testsrc=size=320x240:rate=10 "
                        "-frames:v 25 -c:v mjpeg");
    size_t len = 0;
    uint8_t *d = tu_read_file(tmp_path("d.avi"), &len);
    assert_non_null(d);
    int soi = 0;
    size_t i;
    for (i = 0; i + 2 < len; i++)
        if (d[i] == 0xff && d[i + 1] == 0xd8 && d[i + 2] == 0xff && soi++ == 12)
            break;
    assert_true(i + 300 < len);
    memset(d + i, 0, 300);
    write_file("d-damaged.avi", d, len);
    free(d);

    pass p;
    run_pass("d-damaged.avi", &p);
    printf("  damaged frame: %s\n", p.broken_reason);
    assert_int_equal(p.images, 24);
    assert_int_equal(p.broken, 1);
    assert_int_equal(p.broken_status, CS_ERR_CORRUPT);
    assert_true(p.names_ok && p.monotonic);
}

/* Two MPEG-TS pieces of different size and pixel format, back to back. */
static void test_size_change(void **state)
{
    (void)state;
    make_video("s1.ts", "-f lavfi -i testsrc=size=320x240:rate=10 "
                        "-frames:v 10 -c:v libx264 -pix_fmt yuv420p");
    make_video("s2.ts", "-f lavfi -i testsrc=size=1280x960:rate=10 "
                        "-frames:v 10 -c:v libx264 -pix_fmt yuv444p");
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cat '%s' ", tmp_path("s1.ts"));
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "'%s' > '%s'", tmp_path("s2.ts"),
             tmp_path("s12.ts"));
    assert_int_equal(system(cmd), 0);
    pass p;
    run_pass("s12.ts", &p);
    assert_int_equal(p.images, 20);
    assert_int_equal(p.broken, 0);
    assert_true(p.sizes_ok && p.names_ok);
    assert_int_equal(p.last_src_w, 1280);
    assert_int_equal(p.last_src_h, 960);
}

static void test_too_large(void **state)
{
    (void)state;
    make_video("wide.avi", "-f lavfi -i testsrc=size=8200x64:rate=10 "
                           "-frames:v 2 -c:v mjpeg");
    pass p;
    run_pass("wide.avi", &p);
    assert_int_equal(p.images, 0);
    assert_int_equal(p.broken, 2);
    assert_int_equal(p.broken_status, CS_ERR_TOO_LARGE);
    assert_non_null(strstr(p.broken_reason, "8200x64"));
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cs_source *src = NULL;
    cs_error err = {0};
    assert_int_equal(cs_source_open_video(NULL, &src, &err), CS_ERR_ARG);
    assert_int_equal(cs_source_open_video("x", NULL, &err), CS_ERR_ARG);
    cs_source_close(NULL);
}

/* cs_source_open() (src/study/source_open.c) tells a folder, a frame
 * stream and a video apart by what is at the path, and names what is wrong
 * with a path that is none of them. It lives here because it is the one
 * caller of the video backend. */
static void test_dispatch_by_path(void **state)
{
    (void)state;
    cs_source *src = NULL;
    cs_error err = {0};

    char dir[4200];
    snprintf(dir, sizeof dir, "%s", tmp_path("frames"));
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file("frames/0001.jpg", "not a JPEG", 10); /* a broken item, later */
    assert_int_equal(cs_source_open(dir, &src, &err), CS_OK);
    assert_int_equal(cs_source_type_of(src), CS_SOURCE_FOLDER);
    cs_source_close(src);

    FILE *f = fopen(tmp_path("study.csfs"), "wb");
    assert_non_null(f);
    assert_int_equal(cs_fs_write_header(f, &err), CS_OK);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(cs_source_open(tmp_path("study.csfs"), &src, &err), CS_OK);
    assert_int_equal(cs_source_type_of(src), CS_SOURCE_FRAMESTREAM);
    cs_source_close(src);

    make_video("dispatch.avi", "-f lavfi -i testsrc=size=64x64:rate=10 -frames:v 2 -c:v mjpeg");
    assert_int_equal(cs_source_open(tmp_path("dispatch.avi"), &src, &err), CS_OK);
    assert_int_equal(cs_source_type_of(src), CS_SOURCE_VIDEO);
    cs_source_close(src);

    write_file("empty.bin", "", 0);
    src = NULL;
    assert_int_equal(cs_source_open(tmp_path("empty.bin"), &src, &err), CS_ERR_EMPTY);
    assert_null(src);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(cs_source_open(tmp_path("missing"), &src, &err), CS_ERR_IO);
    assert_null(src);
    assert_non_null(strstr(err.msg, "missing"));
}

/* Which corner (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) of
 * a packed w x h RGB image is red; -1 when not exactly one. */
static int red_corner(const uint8_t *rgb, int w, int h)
{
    const int xs[4] = {1, w - 2, 1, w - 2}, ys[4] = {1, 1, h - 2, h - 2};
    int found = -1;
    for (int c = 0; c < 4; c++) {
        const uint8_t *p = rgb + ((size_t)ys[c] * w + xs[c]) * 3;
        if (p[0] > 160 && p[1] < 80 && p[2] < 80) {
            if (found >= 0)
                return -1;
            found = c;
        }
    }
    return found;
}

/* A stream with a rotation in its display matrix (a phone or a vendor's
 * export) is turned upright as players and `ffmpeg -i` show it: the size
 * is the displayed one (so boxes are in the frame the reader sees) and the
 * red corner is where ffmpeg's own extraction puts it. */
static void test_display_rotation(void **state)
{
    (void)state;
    make_video("rot0.mp4", "-f lavfi -i color=c=black:size=320x240:rate=10,"
                           "drawbox=x=0:y=0:w=80:h=60:color=red:t=fill "
                           "-frames:v 2 -c:v libx264 -pix_fmt yuv444p");
    const char *rots[] = {"90", "180", "270"};
    for (int i = 0; i < 3; i++) {
        char name[64], args[4400], raw[64];
        snprintf(name, sizeof name, "rot%s.mp4", rots[i]);
        snprintf(args, sizeof args, "-i '%s' -c copy -metadata:s:v:0 rotate=%s",
                 tmp_path("rot0.mp4"), rots[i]);
        make_video(name, args);
        /* ffmpeg's own upright frame, full size */
        snprintf(raw, sizeof raw, "rot%s.rgb", rots[i]);
        snprintf(args, sizeof args, "-i '%s' -frames:v 1 -f rawvideo -pix_fmt rgb24",
                 tmp_path(name));
        make_video(raw, args);
        FILE *f = fopen(tmp_path(raw), "rb");
        assert_non_null(f);
        static uint8_t want[320 * 240 * 3];
        assert_int_equal(fread(want, 1, sizeof want, f), sizeof want);
        fclose(f);
        int turned = strcmp(rots[i], "180") != 0;
        int ww = turned ? 240 : 320, wh = turned ? 320 : 240;
        int corner = red_corner(want, ww, wh);
        assert_true(corner >= 0);

        cs_source *src = NULL;
        cs_error err = {0};
        cs_item item;
        assert_int_equal(cs_source_open_video(tmp_path(name), &src, &err), CS_OK);
        assert_int_equal(cs_source_next(src, &item, &err), CS_OK);
        assert_int_equal(item.kind, CS_ITEM_IMAGE);
        assert_int_equal(item.image.src_width, ww);
        assert_int_equal(item.image.src_height, wh);
        int aw, ah;
        cs_analysis_size(ww, wh, &aw, &ah);
        assert_int_equal(item.image.width, aw);
        assert_int_equal(item.image.height, ah);
        if (red_corner(item.image.rgb, aw, ah) != corner)
            fail_msg("rotate=%s: red corner %d, ffmpeg shows it in %d", rots[i],
                     red_corner(item.image.rgb, aw, ah), corner);
        cs_item_clear(&item);
        cs_source_close(src);
    }
}

int main(void)
{
    if (system("command -v ffmpeg >/dev/null 2>&1") != 0) {
        printf("SKIP: the ffmpeg CLI is not on PATH; it makes this test's "
               "videos (apt-get install ffmpeg)\n");
        return CS_TEST_SKIP;
    }
    const char *dir = tu_tmpdir();
    if (!dir) {
        printf("cannot create a temporary directory\n");
        return 1;
    }
    snprintf(tmp, sizeof tmp, "%s", dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp4_h264),
        cmocka_unit_test(test_avi_mjpeg),
        cmocka_unit_test(test_mkv_with_audio),
        cmocka_unit_test(test_colours),
        cmocka_unit_test(test_not_a_video),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_edit_list_is_not_truncation),
        cmocka_unit_test(test_damaged_packet),
        cmocka_unit_test(test_size_change),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_dispatch_by_path),
        cmocka_unit_test(test_detail_image),
        cmocka_unit_test(test_display_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
