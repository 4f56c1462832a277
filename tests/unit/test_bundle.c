/* Repro bundles (issue 13 item 5), the pure parts: ustar writer and reader, gzip, bundle
 * paths, the manifest (format version, checksums), whole bundles read and verified in memory
 * (tampered, truncated, unsafe paths, a newer format), the rerun command's words, and
 * extraction into a directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/sha256.h"
#include "bundle/bundle.h"
#include "bundle/command.h"
#include "bundle/gz.h"
#include "bundle/manifest.h"
#include "bundle/tar.h"

/* --- tar ----------------------------------------------------------------------------------- */

static const char long_path[] =
	"logs/run-1/a-directory-name-that-is-long-enough/to-push-the-whole-path-over-one-hundred/"
	"bytes-so-that-ustar-splits-it.pcap";

static void build_tar(struct tar_buf *t)
{
	assert_int_equal(tar_add_file(t, "a.txt", "hello\n", 6, 1000), 0);
	assert_int_equal(tar_add_file(t, "empty", "", 0, 1000), 0);
	assert_int_equal(tar_add_file(t, long_path, "x", 1, 1000), 0);
	assert_int_equal(tar_add_file(t, "block", (char[512]){ 'b' }, 512, 1000), 0);
	assert_int_equal(tar_finish(t), 0);
}

static void test_tar_round_trip(void **state)
{
	struct tar_buf t = { 0 };
	struct tar_entry *e;
	char why[300];
	int n;

	(void)state;
	assert_true(strlen(long_path) > 100);
	build_tar(&t);
	assert_int_equal(t.len % 512, 0);
	n = tar_parse(t.data, t.len, 100, &e, why, sizeof(why));
	assert_int_equal(n, 4);
	assert_string_equal(e[0].path, "a.txt");
	assert_int_equal(e[0].size, 6);
	assert_memory_equal(e[0].data, "hello\n", 6);
	assert_string_equal(e[1].path, "empty");
	assert_int_equal(e[1].size, 0);
	assert_string_equal(e[2].path, long_path);
	assert_int_equal(e[3].size, 512);
	assert_int_equal(e[3].data[0], 'b');
	free(e);
	/* a limit on entries is a limit */
	assert_int_equal(tar_parse(t.data, t.len, 3, &e, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "more than 3 entries"));
	tar_buf_free(&t);
}

/* The longest path ustar can hold (155 + '/' + 100 = 256 bytes) is read whole, and the
 * bundle's path check then refuses it (at most 255): nothing is cut short on the way. */
static void test_tar_longest_path(void **state)
{
	struct tar_buf t = { 0 };
	struct tar_entry *e;
	char path[257], why[300];

	(void)state;
	memset(path, 'p', 155);
	path[155] = '/';
	memset(path + 156, 'n', 100);
	path[256] = '\0';
	assert_int_equal(tar_add_file(&t, path, "x", 1, 0), 0);
	assert_int_equal(tar_finish(&t), 0);
	assert_int_equal(tar_parse(t.data, t.len, 10, &e, why, sizeof(why)), 1);
	assert_string_equal(e[0].path, path);
	assert_int_equal(bundle_path_check(e[0].path, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "too long"));
	free(e);
	tar_buf_free(&t);
}

static void test_tar_path_too_long(void **state)
{
	struct tar_buf t = { 0 };
	char name[160];

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	/* 159 bytes without a '/': no ustar split exists */
	assert_int_equal(tar_add_file(&t, name, "", 0, 0), -ENAMETOOLONG);
	assert_int_equal(tar_add_file(&t, "", "", 0, 0), -EINVAL);
	tar_buf_free(&t);
}

/* Rewrite a header's checksum after a change (what a crafted archive does). */
static void fix_checksum(uint8_t *h)
{
	unsigned sum = 0;

	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

static void expect_refused(const uint8_t *buf, size_t len, const char *words)
{
	struct tar_entry *e = NULL;
	char why[300] = "";

	assert_int_equal(tar_parse(buf, len, 100, &e, why, sizeof(why)), -EINVAL);
	assert_null(e);
	if (!strstr(why, words))
		fail_msg("expected \"%s\" in \"%s\"", words, why);
}

static void test_tar_refuses(void **state)
{
	static const struct { char type; const char *words; } types[] = {
		{ '2', "a symbolic link: a bundle holds regular files only" },
		{ '1', "a hard link" },
		{ '5', "a directory" },
		{ '3', "a character device" },
		{ 'x', "pax extended header" },
		{ 'L', "GNU long name" },
	};
	struct tar_buf t = { 0 };

	(void)state;
	build_tar(&t);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint8_t *c = malloc(t.len);
		memcpy(c, t.data, t.len);
		c[156] = (uint8_t)types[i].type;
		fix_checksum(c);
		expect_refused(c, t.len, types[i].words);
		free(c);
	}
	{
		uint8_t *c = malloc(t.len);

		/* a changed header byte without a new checksum */
		memcpy(c, t.data, t.len);
		c[0] = 'b';
		expect_refused(c, t.len, "header checksum does not match");
		/* cut inside the first file's data block */
		expect_refused(t.data, 512 + 100, "truncated");
		/* cut after a whole entry, before the end marker */
		expect_refused(t.data, 1024, "truncated");
		expect_refused(t.data, 0, "truncated");
		/* something after the end marker */
		memcpy(c, t.data, t.len);
		c[t.len - 1] = 'x';
		expect_refused(c, t.len, "after the archive's end marker");
		/* a size that is not octal */
		memcpy(c, t.data, t.len);
		c[124] = '9';
		fix_checksum(c);
		expect_refused(c, t.len, "not an octal number");
		/* a size beyond the data there is */
		memcpy(c, t.data, t.len);
		snprintf((char *)c + 124, 12, "%011o", 07777777);
		fix_checksum(c);
		expect_refused(c, t.len, "truncated: entry 1");
		free(c);
	}
	tar_buf_free(&t);
}

/* --- gzip ---------------------------------------------------------------------------------- */

static void test_gz(void **state)
{
	struct tar_buf in = { 0 }, gz = { 0 }, out = { 0 };
	char why[300];

	(void)state;
	for (int i = 0; i < 20000; i++)
		assert_int_equal(tar_buf_put(&in, i % 7 ? "abcdefgh" : "01234567", 8), 0);
	assert_int_equal(gz_compress(in.data, in.len, &gz), 0);
	assert_true(gz.len < in.len / 10);
	assert_int_equal(gz_decompress(gz.data, gz.len, in.len, &out, why, sizeof(why)), 0);
	assert_int_equal(out.len, in.len);
	assert_memory_equal(out.data, in.data, in.len);
	tar_buf_free(&out);

	/* one byte short of the whole stream, or half of it: truncated */
	assert_int_equal(gz_decompress(gz.data, gz.len - 1, in.len, &out, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "truncated"));
	tar_buf_free(&out);
	assert_int_equal(gz_decompress(gz.data, gz.len / 2, in.len, &out, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "truncated"));
	tar_buf_free(&out);
	/* more than the limit */
	assert_int_equal(gz_decompress(gz.data, gz.len, in.len / 2, &out, why, sizeof(why)), -EFBIG);
	tar_buf_free(&out);
	/* other data after the stream */
	assert_int_equal(tar_buf_put(&gz, "junk", 4), 0);
	assert_int_equal(gz_decompress(gz.data, gz.len, in.len, &out, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "after the gzip stream"));
	tar_buf_free(&out);
	gz.len -= 4;
	/* a damaged CRC (the trailer's first byte) */
	gz.data[gz.len - 8] ^= 0xff;
	assert_int_equal(gz_decompress(gz.data, gz.len, in.len, &out, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "damaged"));
	tar_buf_free(&out);
	/* not gzip at all */
	assert_int_equal(gz_decompress("plain text", 10, 100, &out, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a gzip file"));
	tar_buf_free(&out);
	tar_buf_free(&gz);
	tar_buf_free(&in);
}

/* --- paths --------------------------------------------------------------------------------- */

static void test_paths(void **state)
{
	static const char *ok[] = {
		"a", "a/b.c", "logs/run-1/peer a.out", "files/profile/home%20box~1.nft",
		"data/nat-profiles/full-cone.nft", "..a", "a..", "a/...",
	};
	static const struct { const char *path, *words; } bad[] = {
		{ "", "empty" },
		{ "/etc/x", "absolute" },
		{ "../x", "\"..\"" },
		{ "a/../b", "\"..\"" },
		{ "a/..", "\"..\"" },
		{ "./a", "\".\"" },
		{ "a/./b", "\".\"" },
		{ "a//b", "empty" },
		{ "a/", "ends with '/'" },
		{ "a\\b", "backslash" },
		{ "a\nb", "control byte" },
	};
	char why[300];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (bundle_path_check(ok[i], why, sizeof(why)) != 0)
			fail_msg("\"%s\" refused: %s", ok[i], why);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (bundle_path_check(bad[i].path, why, sizeof(why)) != -EINVAL ||
		    !strstr(why, bad[i].words))
			fail_msg("\"%s\": expected -EINVAL with \"%s\", got \"%s\"", bad[i].path,
				 bad[i].words, why);
	}
}

/* --- manifest ------------------------------------------------------------------------------ */

static void fill_manifest(struct bundle_manifest *m)
{
	m->format_version = BUNDLE_FORMAT_VERSION;
	snprintf(m->created, sizeof(m->created), "2026-11-30T10:00:00Z");
	snprintf(m->cell, sizeof(m->cell), "two-nats/udp/udp/full-cone~symmetric");
	snprintf(m->outcome, sizeof(m->outcome), "direct");
	m->runs = 1;
	snprintf(m->rerun, sizeof(m->rerun),
		 "sudo build/punchlab matrix --cell two-nats/udp/udp/full-cone~symmetric");
	snprintf(m->versions.kernel, sizeof(m->versions.kernel), "Linux 6.18");
	snprintf(m->versions.nft, sizeof(m->versions.nft), "libnftables 1.0.6");
	snprintf(m->versions.harness, sizeof(m->versions.harness), "punchlab 0.1.0");
	snprintf(m->versions.engine, sizeof(m->versions.engine), "punch");
	snprintf(m->versions.engine_version, sizeof(m->versions.engine_version), "0.1.0");
}

static void test_manifest_round_trip(void **state)
{
	struct bundle_manifest m = { 0 }, back;
	struct bundle_file f = { .path = "data/x.nft", .kind = "profile", .ref = "x", .size = 3 };
	char why[300], *json;

	(void)state;
	fill_manifest(&m);
	snprintf(f.sha256, sizeof(f.sha256), "%064d", 0);
	m.files = &f;
	m.nfiles = 1;
	json = manifest_to_json(&m);
	assert_non_null(json);
	assert_int_equal(manifest_parse(json, strlen(json), &back, why, sizeof(why)), 0);
	assert_int_equal(back.format_version, BUNDLE_FORMAT_VERSION);
	assert_string_equal(back.cell, m.cell);
	assert_string_equal(back.rerun, m.rerun);
	assert_string_equal(back.versions.engine_version, "0.1.0");
	assert_int_equal(back.nfiles, 1);
	assert_string_equal(back.files[0].path, "data/x.nft");
	assert_string_equal(back.files[0].ref, "x");
	assert_int_equal(back.files[0].size, 3);
	manifest_free(&back);
	free(json);
}

static void expect_manifest(const char *json, int err, const char *words)
{
	struct bundle_manifest m;
	char why[300] = "";

	assert_int_equal(manifest_parse(json, strlen(json), &m, why, sizeof(why)), err);
	if (!strstr(why, words))
		fail_msg("expected \"%s\" in \"%s\"", words, why);
	manifest_free(&m);
}

static void test_manifest_refuses(void **state)
{
	(void)state;
	/* a newer format is refused before anything else is looked at */
#define F "\"format\": \"punchlab-bundle\", "
	expect_manifest("{" F "\"format_version\": 2}", -EPROTONOSUPPORT,
			"format version 2 is newer than this punchlab reads (up to 1)");
	expect_manifest("{" F "\"format_version\": 99, \"files\": 3}", -EPROTONOSUPPORT, "99");
	expect_manifest("{\"format\": \"punchlab-bundle\"}", -EINVAL, "format_version: missing");
	expect_manifest("{\"format_version\": 1}", -EINVAL, "not a punchlab bundle's manifest");
	expect_manifest("{\"format\": \"zip\", \"format_version\": 1}", -EINVAL, "format: expected");
	expect_manifest("{" F "\"format_version\": \"1\"}", -EINVAL, "format_version");
	expect_manifest("{" F "\"format_version\": 1}", -EINVAL, "created: missing");
	expect_manifest("{" F "\"format_version\": 1,\n\"a\": ", -EINVAL, "line 2");
	expect_manifest("{" F "\"format_version\": 1, \"created\": \"x\", \"cell\": \"c\", \"outcome\": "
			"\"direct\", \"rerun\": \"r\", \"runs\": 1, \"versions\": {\"kernel\": \"\", "
			"\"nft\": \"\", \"harness\": \"\", \"engine\": \"\", \"engine_version\": \"\", "
			"\"engine_b\": \"\", \"engine_b_version\": \"\"}, \"files\": [{\"path\": \"a\", "
			"\"kind\": \"log\", \"ref\": \"\", \"sha256\": \"XYZ\", \"size\": 1}]}",
			-EINVAL, "files[0].sha256");
#undef F
}

/* An archive of manifest + files (paths unchecked: tests craft bad ones), gzipped. */
static void craft(struct tar_buf *gz, const struct bundle_manifest *m, const char **paths,
		  const char **datas, int n)
{
	struct tar_buf t = { 0 };
	char *json = manifest_to_json(m);

	assert_int_equal(tar_add_file(&t, BUNDLE_MANIFEST, json, strlen(json), 0), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(tar_add_file(&t, paths[i], datas[i], strlen(datas[i]), 0), 0);
	assert_int_equal(tar_finish(&t), 0);
	assert_int_equal(gz_compress(t.data, t.len, gz), 0);
	tar_buf_free(&t);
	free(json);
}

/* A manifest listing the files, with their real sizes and SHA-256s. */
static void list_files(struct bundle_manifest *m, struct bundle_file *f, const char **paths,
		       const char **datas, int n)
{
	fill_manifest(m);
	for (int i = 0; i < n; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		snprintf(f[i].path, sizeof(f[i].path), "%s", paths[i]);
		snprintf(f[i].kind, sizeof(f[i].kind), "log");
		f[i].size = strlen(datas[i]);
		sha256_hex(datas[i], strlen(datas[i]), f[i].sha256);
	}
	m->files = f;
	m->nfiles = n;
}

static int read_crafted(const struct tar_buf *gz, char *why, size_t wlen)
{
	struct bundle b;
	int ret = bundle_read_buffer(gz->data, gz->len, &b, why, wlen);

	bundle_free(&b);
	return ret;
}

static void test_bundle_verify(void **state)
{
	const char *paths[] = { "cell.json", "data/nat-profiles/x.nft" };
	const char *datas[] = { "{}", "table ip t {}\n" };
	struct bundle_manifest m = { 0 };
	struct bundle_file f[3];
	struct tar_buf gz = { 0 };
	char why[400];

	(void)state;
	list_files(&m, f, paths, datas, 2);
	craft(&gz, &m, paths, datas, 2);
	assert_int_equal(read_crafted(&gz, why, sizeof(why)), 0);
	tar_buf_free(&gz);

	/* a changed byte in a file: its checksum */
	{
		const char *tampered[] = { "{}", "table ip u {}\n" };
		craft(&gz, &m, paths, tampered, 2);
		assert_int_equal(read_crafted(&gz, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "\"data/nat-profiles/x.nft\": checksum mismatch"));
		tar_buf_free(&gz);
	}
	/* a file the manifest does not list, one it lists that is missing */
	craft(&gz, &m, paths, datas, 1);
	assert_int_equal(read_crafted(&gz, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "missing from the archive"));
	tar_buf_free(&gz);
	m.nfiles = 1;
	craft(&gz, &m, paths, datas, 2);
	assert_int_equal(read_crafted(&gz, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not in the manifest"));
	tar_buf_free(&gz);
	m.nfiles = 2;
	/* a size that differs */
	f[0].size = 3;
	craft(&gz, &m, paths, datas, 2);
	assert_int_equal(read_crafted(&gz, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "the manifest says 3"));
	tar_buf_free(&gz);
	f[0].size = 2;
	/* a newer format */
	m.format_version = BUNDLE_FORMAT_VERSION + 1;
	craft(&gz, &m, paths, datas, 2);
	assert_int_equal(read_crafted(&gz, why, sizeof(why)), -EPROTONOSUPPORT);
	assert_non_null(strstr(why, "newer than this punchlab reads"));
	tar_buf_free(&gz);
	m.format_version = BUNDLE_FORMAT_VERSION;
	/* no manifest at all */
	{
		struct tar_buf t = { 0 };
		assert_int_equal(tar_add_file(&t, "x", "y", 1, 0), 0);
		assert_int_equal(tar_finish(&t), 0);
		assert_int_equal(gz_compress(t.data, t.len, &gz), 0);
		assert_int_equal(read_crafted(&gz, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "not a punchlab bundle"));
		tar_buf_free(&gz);
		tar_buf_free(&t);
	}
}

/* Unsafe paths are refused even when the manifest lists them with the right checksums. */
static void test_bundle_unsafe_paths(void **state)
{
	static const struct { const char *path, *words; } bad[] = {
		{ "../x", "\"..\"" },
		{ "/etc/x", "absolute" },
		{ "data/../../x", "\"..\"" },
	};
	struct bundle_manifest m = { 0 };
	struct bundle_file f[1];
	struct tar_buf gz = { 0 };
	char why[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *paths[] = { bad[i].path }, *datas[] = { "x" };

		list_files(&m, f, paths, datas, 1);
		craft(&gz, &m, paths, datas, 1);
		why[0] = '\0';
		assert_int_equal(read_crafted(&gz, why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad[i].words) || !strstr(why, bad[i].path))
			fail_msg("%s: expected \"%s\" in \"%s\"", bad[i].path, bad[i].words, why);
		tar_buf_free(&gz);
	}
}

/* The writer, a file on disk, read back, extracted, removed. */
static void test_bundle_write_read_extract(void **state)
{
	char dir[] = "/tmp/punchlab-unit-bundle-XXXXXX", file[128], why[400], path[256];
	struct bundle_writer w = { .total = 0 };
	struct bundle b;
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fill_manifest(&w.m);
	assert_int_equal(bundle_writer_add(&w, "cell.json", "result", "", "{}", 2, why,
					   sizeof(why)), 0);
	assert_int_equal(bundle_writer_add(&w, long_path, "log", "", "pcap", 4, why, sizeof(why)),
			 0);
	/* twice, the manifest's own name, an unsafe path: refused */
	assert_int_equal(bundle_writer_add(&w, "cell.json", "result", "", "{}", 2, why,
					   sizeof(why)), -EEXIST);
	assert_int_equal(bundle_writer_add(&w, BUNDLE_MANIFEST, "result", "", "{}", 2, why,
					   sizeof(why)), -EEXIST);
	assert_int_equal(bundle_writer_add(&w, "../x", "log", "", "", 0, why, sizeof(why)),
			 -EINVAL);
	snprintf(file, sizeof(file), "%s/out.tar.gz", dir);
	assert_int_equal(bundle_writer_save(&w, file, why, sizeof(why)), 0);
	bundle_writer_free(&w);

	assert_int_equal(bundle_read(file, &b, why, sizeof(why)), 0);
	assert_int_equal(b.nentries, 3);
	assert_string_equal(b.entries[0].path, BUNDLE_MANIFEST);
	assert_non_null(manifest_file(&b.m, "log", NULL));
	snprintf(path, sizeof(path), "%s/x", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(bundle_extract(&b, path, why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/x/%s", dir, long_path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);
	/* extracting again over itself: files are created new, never overwritten */
	snprintf(path, sizeof(path), "%s/x", dir);
	assert_true(bundle_extract(&b, path, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "File exists"));
	bundle_free(&b);

	/* a truncated file */
	f = fopen(file, "r+");
	assert_non_null(f);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(ftruncate(fileno(f), st.st_size / 2), 0);
	fclose(f);
	assert_int_equal(bundle_read(file, &b, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "truncated"));
	bundle_free(&b);

	assert_int_equal(bundle_rm_tree(dir), 0);
	assert_int_equal(stat(dir, &st), -1);
}

/* --- the rerun command --------------------------------------------------------------------- */

static void test_command_split(void **state)
{
	struct command_words cw;
	char why[300], line[512];

	(void)state;
	assert_int_equal(command_split("sudo build/punchlab matrix --cell "
				       "two-nats/udp/udp/%2Ftmp%2Fa.nft~full-cone --topology "
				       "'/tmp/my topo.yaml' --expectations 'it'\\''s.yaml' --stagger 5",
				       &cw, why, sizeof(why)), 0);
	assert_int_equal(cw.n, 11);
	assert_string_equal(cw.w[4], "two-nats/udp/udp/%2Ftmp%2Fa.nft~full-cone");
	assert_string_equal(cw.w[6], "/tmp/my topo.yaml");
	assert_string_equal(cw.w[8], "it's.yaml");
	assert_null(cw.w[11]);
	/* joined, it splits to the same words */
	command_join(&cw, line, sizeof(line));
	command_words_free(&cw);
	assert_int_equal(command_split(line, &cw, why, sizeof(why)), 0);
	assert_string_equal(cw.w[6], "/tmp/my topo.yaml");
	assert_string_equal(cw.w[8], "it's.yaml");
	command_words_free(&cw);
	assert_int_equal(command_split("a \"b c\" d\\ e", &cw, why, sizeof(why)), 0);
	assert_int_equal(cw.n, 3);
	assert_string_equal(cw.w[1], "b c");
	assert_string_equal(cw.w[2], "d e");
	command_words_free(&cw);

	/* what a shell would run or expand is refused */
	static const char *bad[] = {
		"punchlab matrix --cell x; rm -rf /", "punchlab matrix $(id)", "a `b`",
		"a | b", "a > /etc/passwd", "a 'open", "a \"$HOME\"", "a && b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(command_split(bad[i], &cw, why, sizeof(why)), -EINVAL);
		command_words_free(&cw);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tar_round_trip),
		cmocka_unit_test(test_tar_path_too_long),
		cmocka_unit_test(test_tar_longest_path),
		cmocka_unit_test(test_tar_refuses),
		cmocka_unit_test(test_gz),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_manifest_round_trip),
		cmocka_unit_test(test_manifest_refuses),
		cmocka_unit_test(test_bundle_verify),
		cmocka_unit_test(test_bundle_unsafe_paths),
		cmocka_unit_test(test_bundle_write_read_extract),
		cmocka_unit_test(test_command_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
