/*
 * protocol.c - see protocol.h; the wire format is described in docs/protocol.md.
 *
 * Every element is described once, in msg_specs[]: its name and, for each
 * sender, the list of its attributes (name, kind, required?, field offset).
 * The encoder, the decoder, proto_msg_free() and proto_msg_equal() all walk
 * these lists, so a message type cannot be encoded one way and decoded
 * another.  Decoding a frame: framing and size checks on raw bytes first
 * (take_frame), then expat on the one complete frame, with handlers that
 * fill the message and stop the parser at the first problem.
 */
#include "protocol.h"

#include <errno.h>
#include <expat.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* ---- allocation (with the test-only failure hook) ---- */

static unsigned long fail_countdown; /* tests only: 0 = off, else allocations until one fails */

void proto_test_fail_alloc(unsigned long n)
{
	fail_countdown = n;
}

static bool alloc_fails(void)
{
	return fail_countdown != 0 && --fail_countdown == 0;
}

static void *p_malloc(size_t n)
{
	return alloc_fails() ? NULL : malloc(n);
}

static void *p_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : realloc(p, n);
}

static const XML_Memory_Handling_Suite mem_suite = {p_malloc, p_realloc, free};

/* ---- error codes ---- */

static const struct {
	uint32_t code;
	const char *name;
} error_names[] = {
    /* names as capture-server's ERROR_CODES.java has them; first match wins (0x10005000) */
    {PROTO_ERR_OK, "OK"},
    {PROTO_ERR_PRESTART, "PRESTART"},
    {PROTO_ERR_START, "START"},
    {PROTO_ERR_FINISH, "FINISH"},
    {PROTO_ERR_POSTFINISH, "POSTFINISH"},
    {PROTO_ERR_NETWORK_ERROR, "NETWORK_ERROR"},
    {PROTO_ERR_PROCESS_ERROR, "PROCESS_ERROR"},
    {PROTO_ERR_TIMEOUT_ERROR, "TIMEOUT_ERROR"},
    {PROTO_ERR_VISITATION_MULTIPLE_ERRORS, "VISITATION_MULTIPLE_ERRORS"},
    {PROTO_ERR_ATTACH_PROCESS_ERROR, "VISITATION_UNABLE_TO_START_CLIENT"},
    {PROTO_ERR_VISITATION_EXCEPTION, "VISITATION_EXCEPTION"},
    {PROTO_ERR_VISITATION_WARNING, "VISITATION_WARNING"},
    {PROTO_ERR_CAPTURE_CLIENT_INACTIVITY, "CAPTURE_CLIENT_INACTIVITY"},
    {PROTO_ERR_VM_STALLED, "VM_STALLED"},
    {PROTO_ERR_CAPTURE_CLIENT_CONNECTION_RESET, "CAPTURE_CLIENT_CONNECTION_RESET"},
    {PROTO_ERR_SOCKET_ERROR, "SOCKET_ERROR"},
    {PROTO_ERR_INVALID_URL, "INVALID_URL"},
    {PROTO_ERR_PE_PROCESS_TERMINATED_FORCEFULLY, "PE_PROCESS_TERMINATED_FORCEFULLY"},
    {PROTO_ERR_PE_PROCESS_ALREADY_TERMINATED, "PE_PROCESS_ALREADY_TERMINATED"},
    {PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND, "PE_PROCESS_PATH_NOT_FOUND"},
    {PROTO_ERR_PE_SENT_URL_TO_DISCONNECTED_CLIENT, "PE_SENT_URL_TO_DISCONNECTED_CLIENT"},
    {PROTO_ERR_INVALID_ERROR_CODE_FROM_CLIENT, "INVALID_ERROR_CODE_FROM_CLIENT"},
    {PROTO_ERR_EVENTS_LOST, "EVENTS_LOST"},
    {PROTO_ERR_SANDBOX_ERROR, "SANDBOX_ERROR"},
};

const char *proto_error_name(uint32_t code)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_names); i++)
		if (error_names[i].code == code)
			return error_names[i].name;
	return NULL;
}

/* ---- message descriptions ---- */

enum attr_kind {
	ATTR_STR,    /* char *: byte string */
	ATTR_HEX,    /* char *: exactly PROTO_AUTH_HEX_LEN hex digits */
	ATTR_U32,    /* uint32_t, decimal */
	ATTR_U64,    /* uint64_t, decimal */
	ATTR_BOOL,   /* bool: "0" or "1" */
	ATTR_SIGN,   /* bool: "+"/"yes" or "-"/"no"; written "+" or "-" */
	ATTR_VISIT,  /* enum proto_visit_type: "start", "finish", "error" */
	ATTR_BASE64, /* encoding="base64", no field */
};

#define REQ   0x1u /* decoding fails without it; encoding fails if the string is NULL */
#define OMIT0 0x2u /* number omitted when 0 (so absent = 0) */

struct attr_spec {
	const char *name;
	enum attr_kind kind;
	unsigned flags;
	size_t off; /* in struct proto_msg, or in struct proto_item for items */
};

#define M(f) offsetof(struct proto_msg, u.f)
#define I(f) offsetof(struct proto_item, f)

static const struct attr_spec a_none[] = {
    {.name = NULL},
};
static const struct attr_spec a_connect_s[] = {
    {"server", ATTR_STR, REQ, M(connect.server)},
    {"capture-version", ATTR_U32, OMIT0, M(connect.capture_version)},
    {"challenge", ATTR_HEX, 0, M(connect.challenge)},
    {.name = NULL},
};
static const struct attr_spec a_connect_c[] = {
    {"vm-server-id", ATTR_STR, REQ, M(connect.vm_server_id)},
    {"vm-id", ATTR_STR, REQ, M(connect.vm_id)},
    {"capture-version", ATTR_U32, OMIT0, M(connect.capture_version)},
    {.name = NULL},
};
static const struct attr_spec a_auth[] = {
    {"response", ATTR_HEX, REQ, M(auth.response)},
    {.name = NULL},
};
static const struct attr_spec a_option[] = {
    {"name", ATTR_STR, REQ, M(option.name)},
    {"value", ATTR_STR, REQ, M(option.value)},
    {.name = NULL},
};
static const struct attr_spec a_exclusion[] = {
    {"excluded", ATTR_SIGN, REQ, M(exclusion.excluded)},
    {"action", ATTR_STR, REQ, M(exclusion.action)},
    {"subject", ATTR_STR, REQ, M(exclusion.subject)},
    {"object", ATTR_STR, REQ, M(exclusion.object)},
    {.name = NULL},
};
static const struct attr_spec a_visit_s[] = {
    {"identifier", ATTR_STR, REQ, M(visit.identifier)},
    {"program", ATTR_STR, REQ, M(visit.program)},
    {"time", ATTR_U32, REQ, M(visit.visit_time_s)},
    {.name = NULL},
};
static const struct attr_spec a_visit_c[] = {
    {"type", ATTR_VISIT, REQ, M(visit.type)},
    {"identifier", ATTR_STR, REQ, M(visit.identifier)},
    {"program", ATTR_STR, REQ, M(visit.program)},
    {"time", ATTR_STR, REQ, M(visit.time)},
    {"algorithm", ATTR_STR, 0, M(visit.algorithm)},
    {"malicious", ATTR_BOOL, REQ, M(visit.malicious)},
    {"error-code", ATTR_U32, OMIT0, M(visit.error_code)},
    {.name = NULL},
};
static const struct attr_spec a_item_s[] = {
    {"id", ATTR_STR, REQ, I(id)},
    {"url", ATTR_STR, REQ, I(url)},
    {.name = NULL},
};
static const struct attr_spec a_item_c[] = {
    {"url", ATTR_STR, REQ, I(url)},
    {"processId", ATTR_U32, 0, I(process_id)},
    {"program", ATTR_STR, 0, I(program)},
    {"major-error-code", ATTR_U32, 0, I(major_error_code)},
    {"minor-error-code", ATTR_U32, 0, I(minor_error_code)},
    {"time", ATTR_STR, 0, I(time)},
    {"visited", ATTR_BOOL, 0, I(visited)},
    {.name = NULL},
};
/* clang-format off: one attribute per line, as in the other lists */
static const struct attr_spec a_system_event[] = {
    {"time", ATTR_STR, REQ, M(event.time)},          {"type", ATTR_STR, REQ, M(event.type)},
    {"processId", ATTR_U32, 0, M(event.process_id)}, {"process", ATTR_STR, REQ, M(event.process)},
    {"action", ATTR_STR, REQ, M(event.action)},      {"object1", ATTR_STR, REQ, M(event.object1)},
    {"object2", ATTR_STR, 0, M(event.object2)},      {.name = NULL},
};
/* clang-format on */
static const struct attr_spec a_file[] = {
    {"name", ATTR_STR, REQ, M(file.name)},
    {"size", ATTR_U64, REQ, M(file.size)},
    {"type", ATTR_STR, 0, M(file.type)},
    {.name = NULL},
};
static const struct attr_spec a_file_name[] = {
    {"name", ATTR_STR, REQ, M(file.name)},
    {.name = NULL},
};
static const struct attr_spec a_part[] = {
    {"name", ATTR_STR, REQ, M(part.name)},
    {"part-start", ATTR_U64, REQ, M(part.start)},
    {"part-end", ATTR_U64, REQ, M(part.end)},
    {"encoding", ATTR_BASE64, REQ, 0},
    {.name = NULL},
};

#define S PROTO_PEER_SERVER
#define C PROTO_PEER_CLIENT

struct msg_spec {
	const char *name;
	const struct attr_spec *attrs[2]; /* by sender; NULL: that side never sends it */
	const struct attr_spec *items[2]; /* <item> children (visit-event) */
	bool body;                        /* base64 text content (part) */
};

static const struct msg_spec msg_specs[PROTO_MSG_COUNT] = {
    [PROTO_MSG_CONNECT] = {.name = "connect", .attrs = {[S] = a_connect_s, [C] = a_connect_c}},
    [PROTO_MSG_RECONNECT] = {.name = "reconnect", .attrs = {[C] = a_connect_c}},
    [PROTO_MSG_AUTH] = {.name = "auth", .attrs = {[C] = a_auth}},
    [PROTO_MSG_OPTION] = {.name = "option", .attrs = {[S] = a_option}},
    [PROTO_MSG_FILE_EXCLUSION] = {.name = "file-exclusion", .attrs = {[S] = a_exclusion}},
    [PROTO_MSG_REGISTRY_EXCLUSION] = {.name = "registry-exclusion", .attrs = {[S] = a_exclusion}},
    [PROTO_MSG_PROCESS_EXCLUSION] = {.name = "process-exclusion", .attrs = {[S] = a_exclusion}},
    [PROTO_MSG_CONNECTION_EXCLUSION] = {.name = "connection-exclusion",
					.attrs = {[S] = a_exclusion}},
    [PROTO_MSG_PING] = {.name = "ping", .attrs = {[S] = a_none}},
    [PROTO_MSG_PONG] = {.name = "pong", .attrs = {[C] = a_none}},
    [PROTO_MSG_VISIT_EVENT] = {.name = "visit-event",
			       .attrs = {[S] = a_visit_s, [C] = a_visit_c},
			       .items = {[S] = a_item_s, [C] = a_item_c}},
    [PROTO_MSG_SYSTEM_EVENT] = {.name = "system-event", .attrs = {[C] = a_system_event}},
    [PROTO_MSG_FILE] = {.name = "file", .attrs = {[C] = a_file}},
    [PROTO_MSG_FILE_ACCEPT] = {.name = "file-accept", .attrs = {[S] = a_file_name}},
    [PROTO_MSG_FILE_REJECT] = {.name = "file-reject", .attrs = {[S] = a_file_name}},
    [PROTO_MSG_PART] = {.name = "part", .attrs = {[C] = a_part}, .body = true},
    [PROTO_MSG_FILE_FINISHED] = {.name = "file-finished", .attrs = {[C] = a_file}},
    [PROTO_MSG_CLIENT] = {.name = "client", .attrs = {[C] = a_none}},
};

static const char *const visit_type_names[] = {
    [PROTO_VISIT_START] = "start",
    [PROTO_VISIT_FINISH] = "finish",
    [PROTO_VISIT_ERROR] = "error",
};

static const struct msg_spec *spec_of(enum proto_msg_type type)
{
	if (type <= PROTO_MSG_NONE || type >= PROTO_MSG_COUNT)
		return NULL;
	return &msg_specs[type];
}

const char *proto_msg_name(enum proto_msg_type type)
{
	const struct msg_spec *spec = spec_of(type);

	return spec ? spec->name : NULL;
}

static enum proto_msg_type type_by_name(const char *name)
{
	for (int t = PROTO_MSG_NONE + 1; t < PROTO_MSG_COUNT; t++)
		if (strcmp(msg_specs[t].name, name) == 0)
			return (enum proto_msg_type)t;
	return PROTO_MSG_NONE;
}

/* Field accessors: BASE is a struct proto_msg or struct proto_item. */
static char **f_str(void *base, const struct attr_spec *a)
{
	return (char **)((char *)base + a->off);
}

static uint32_t *f_u32(void *base, const struct attr_spec *a)
{
	return (uint32_t *)((char *)base + a->off);
}

static uint64_t *f_u64(void *base, const struct attr_spec *a)
{
	return (uint64_t *)((char *)base + a->off);
}

static bool *f_bool(void *base, const struct attr_spec *a)
{
	return (bool *)((char *)base + a->off);
}

static enum proto_visit_type *f_visit(void *base, const struct attr_spec *a)
{
	return (enum proto_visit_type *)((char *)base + a->off);
}

/* ---- messages ---- */

void proto_msg_init(struct proto_msg *msg, enum proto_msg_type type)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = type;
}

static void free_fields(const struct attr_spec *attrs, void *base)
{
	for (const struct attr_spec *a = attrs; a && a->name; a++) {
		if (a->kind == ATTR_STR || a->kind == ATTR_HEX) {
			free(*f_str(base, a));
			*f_str(base, a) = NULL;
		}
	}
}

void proto_msg_free(struct proto_msg *msg)
{
	const struct msg_spec *spec = spec_of(msg->type);

	if (spec) {
		for (int side = 0; side < 2; side++)
			free_fields(spec->attrs[side], msg);
		if (msg->type == PROTO_MSG_VISIT_EVENT && msg->u.visit.items) {
			for (size_t i = 0; i < msg->u.visit.n_items; i++)
				for (int side = 0; side < 2; side++)
					free_fields(spec->items[side], &msg->u.visit.items[i]);
			free(msg->u.visit.items);
		}
		if (msg->type == PROTO_MSG_PART)
			free(msg->u.part.data);
	}
	memset(msg, 0, sizeof(*msg));
}

static bool str_equal(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool field_equal(const struct attr_spec *a, const void *x, const void *y)
{
	void *vx = (void *)(uintptr_t)x, *vy = (void *)(uintptr_t)y;

	switch (a->kind) {
	case ATTR_STR:
	case ATTR_HEX: return str_equal(*f_str(vx, a), *f_str(vy, a));
	case ATTR_U32: return *f_u32(vx, a) == *f_u32(vy, a);
	case ATTR_U64: return *f_u64(vx, a) == *f_u64(vy, a);
	case ATTR_BOOL:
	case ATTR_SIGN: return *f_bool(vx, a) == *f_bool(vy, a);
	case ATTR_VISIT: return *f_visit(vx, a) == *f_visit(vy, a);
	case ATTR_BASE64: return true;
	}
	return false;
}

static bool fields_equal(const struct attr_spec *attrs, const void *x, const void *y)
{
	for (const struct attr_spec *a = attrs; a && a->name; a++)
		if (!field_equal(a, x, y))
			return false;
	return true;
}

static bool items_equal(const struct msg_spec *spec, const struct proto_visit *x,
			const struct proto_visit *y)
{
	if (x->n_items != y->n_items)
		return false;
	for (size_t i = 0; i < x->n_items; i++)
		for (int side = 0; side < 2; side++)
			if (!fields_equal(spec->items[side], &x->items[i], &y->items[i]))
				return false;
	return true;
}

bool proto_msg_equal(const struct proto_msg *a, const struct proto_msg *b)
{
	const struct msg_spec *spec = spec_of(a->type);

	if (a->type != b->type)
		return false;
	if (!spec)
		return true;
	for (int side = 0; side < 2; side++)
		if (!fields_equal(spec->attrs[side], a, b))
			return false;
	if (a->type == PROTO_MSG_VISIT_EVENT)
		return a->u.visit.type == b->u.visit.type &&
		       items_equal(spec, &a->u.visit, &b->u.visit);
	if (a->type == PROTO_MSG_PART)
		return a->u.part.len == b->u.part.len &&
		       (a->u.part.len == 0 ||
			memcmp(a->u.part.data, b->u.part.data, a->u.part.len) == 0);
	return true;
}

size_t proto_part_set(struct proto_msg *msg, const char *name, uint64_t start, const void *data,
		      size_t len)
{
	size_t n = len < PROTO_PART_SIZE ? len : PROTO_PART_SIZE;

	proto_msg_init(msg, PROTO_MSG_PART);
	msg->u.part.name = (char *)name;
	msg->u.part.start = start;
	msg->u.part.end = start + n;
	msg->u.part.data = (unsigned char *)data;
	msg->u.part.len = n;
	return n;
}

/* ---- text helpers ---- */

/* The escape character for bytes XML cannot carry: U+FDD0, a noncharacter. */
#define BYTE_ESC     "\xef\xb7\x90"
#define BYTE_ESC_LEN 3

/* Decodes exactly 2*N hex digits followed by NUL into OUT; 0 or -1. */
static int hex_decode(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = util_hex_value((unsigned char)hex[2 * i]);
		int lo = hi < 0 ? -1 : util_hex_value((unsigned char)hex[2 * i + 1]);

		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[2 * n] == '\0' ? 0 : -1;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static bool is_auth_hex(const char *s)
{
	unsigned char tmp[PROTO_AUTH_NONCE_BYTES];

	return s && hex_decode(s, tmp, sizeof(tmp)) == 0;
}

/* Printable ASCII that stands for itself in an attribute value. */
static bool is_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '&' && c != '<' && c != '>' && c != '"' && c != '\'';
}

/* Copies up to 40 bytes of S for an error message, non-printables as '.'. */
static const char *sample(const char *s, char out[48])
{
	size_t i;

	for (i = 0; i < 40 && s[i]; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '.';
	if (s[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* Undoes the byte escape in an attribute value; NULL on allocation failure. */
static char *unescape_dup(const char *s)
{
	size_t n = strlen(s);
	char *out = p_malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		int hi, lo;

		if (strncmp(s, BYTE_ESC, BYTE_ESC_LEN) == 0 && /* stops at the NUL, unlike memcmp */
		    (hi = util_hex_value((unsigned char)s[3])) >= 0 &&
		    (lo = util_hex_value((unsigned char)s[4])) >= 0 && (hi | lo) != 0) {
			*o++ = (char)(hi << 4 | lo);
			s += BYTE_ESC_LEN + 2;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* ---- encoder ---- */

/* Appends to a buffer and remembers the first error, so callers check once. */
struct writer {
	struct buf *b;
	int err; /* errno of the first failed append, 0 = none */
};

static void w_add(struct writer *w, const void *p, size_t n)
{
	if (!w->err && buf_add(w->b, p, n) < 0)
		w->err = errno;
}

static void w_str(struct writer *w, const char *s)
{
	w_add(w, s, strlen(s));
}

static void w_byte_escape(struct writer *w, unsigned char c)
{
	char tmp[BYTE_ESC_LEN + 3];

	snprintf(tmp, sizeof(tmp), BYTE_ESC "%02X", c);
	w_add(w, tmp, BYTE_ESC_LEN + 2);
}

/* Writes the byte(s) at P that are not plain ASCII; returns how many were consumed. */
static size_t w_special(struct writer *w, const unsigned char *p, size_t len)
{
	uint32_t cp = 0;
	size_t n;

	switch (p[0]) {
	case '&': w_str(w, "&amp;"); return 1;
	case '<': w_str(w, "&lt;"); return 1;
	case '>': w_str(w, "&gt;"); return 1;
	case '"': w_str(w, "&quot;"); return 1;
	case '\'': w_str(w, "&apos;"); return 1;
	case '\t': w_str(w, "&#x9;"); return 1;
	case '\n': w_str(w, "&#xA;"); return 1;
	case '\r': w_str(w, "&#xD;"); return 1;
	case 0x7f: w_str(w, "&#x7F;"); return 1;
	default: break;
	}
	n = p[0] >= 0x80 ? util_utf8_decode(p, len, &cp) : 0;
	if (n == 0 || cp == 0xfdd0 || cp == 0xfffe || cp == 0xffff) {
		w_byte_escape(w, p[0]); /* C0 control, invalid UTF-8, or not an XML character */
		return 1;
	}
	w_add(w, p, n);
	return n;
}

static void w_escaped(struct writer *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;

	while (i < len) {
		size_t run = i;

		while (run < len && is_plain(p[run]))
			run++;
		if (run > i) {
			w_add(w, p + i, run - i);
			i = run;
		} else {
			i += w_special(w, p + i, len - i);
		}
	}
}

/* Writes ` name="value"` for one attribute (nothing for an absent optional one). */
static void w_attr(struct writer *w, const struct attr_spec *a, void *base)
{
	char num[24];
	const char *text = num;

	switch (a->kind) {
	case ATTR_STR:
	case ATTR_HEX:
		text = *f_str(base, a);
		if (!text)
			return;
		break;
	case ATTR_U32:
		if (*f_u32(base, a) == 0 && (a->flags & OMIT0))
			return;
		snprintf(num, sizeof(num), "%" PRIu32, *f_u32(base, a));
		break;
	case ATTR_U64: snprintf(num, sizeof(num), "%" PRIu64, *f_u64(base, a)); break;
	case ATTR_BOOL: text = *f_bool(base, a) ? "1" : "0"; break;
	case ATTR_SIGN: text = *f_bool(base, a) ? "+" : "-"; break;
	case ATTR_VISIT: text = visit_type_names[*f_visit(base, a)]; break;
	case ATTR_BASE64: text = "base64"; break;
	}
	w_str(w, " ");
	w_str(w, a->name);
	w_str(w, "=\"");
	w_escaped(w, text);
	w_str(w, "\"");
}

static void w_attrs(struct writer *w, const struct attr_spec *attrs, void *base)
{
	for (const struct attr_spec *a = attrs; a->name; a++)
		w_attr(w, a, base);
}

#define B64_CHUNK ((size_t)768) /* input bytes per EVP_EncodeBlock() call: 1024 characters out */

/* Appends DATA as base64, in chunks that need no allocation. */
static void w_base64(struct writer *w, const unsigned char *data, size_t len)
{
	unsigned char out[B64_CHUNK / 3 * 4 + 1];

	for (size_t off = 0; off < len; off += B64_CHUNK) {
		size_t n = len - off < B64_CHUNK ? len - off : B64_CHUNK;
		int m = EVP_EncodeBlock(out, data + off, (int)n);

		w_add(w, out, (size_t)m);
	}
}

/* Required strings present, hex where hex is due, visit type valid. */
static bool fields_valid(const struct attr_spec *attrs, void *base)
{
	for (const struct attr_spec *a = attrs; a->name; a++) {
		if ((a->kind == ATTR_STR || a->kind == ATTR_HEX) && (a->flags & REQ) &&
		    !*f_str(base, a))
			return false;
		if (a->kind == ATTR_HEX && *f_str(base, a) && !is_auth_hex(*f_str(base, a)))
			return false;
		if (a->kind == ATTR_VISIT && (*f_visit(base, a) < PROTO_VISIT_START ||
					      *f_visit(base, a) > PROTO_VISIT_ERROR))
			return false;
	}
	return true;
}

/* Checks MSG is complete and consistent for SIDE to send. */
static bool msg_valid(const struct msg_spec *spec, const struct proto_msg *msg, int side)
{
	struct proto_msg *m = (struct proto_msg *)(uintptr_t)msg;
	const struct proto_visit *v = &msg->u.visit;
	const struct proto_part *p = &msg->u.part;

	if (!spec->attrs[side] || !fields_valid(spec->attrs[side], m))
		return false;
	if (msg->type == PROTO_MSG_VISIT_EVENT) {
		if (v->n_items > PROTO_MAX_ITEMS || (v->n_items && !v->items))
			return false;
		if (side == PROTO_PEER_CLIENT && v->type == PROTO_VISIT_ERROR && v->error_code == 0)
			return false;
		for (size_t i = 0; i < v->n_items; i++)
			if (!fields_valid(spec->items[side], &v->items[i]))
				return false;
	}
	if (msg->type == PROTO_MSG_PART)
		return p->end >= p->start && p->end - p->start == p->len && (p->data || !p->len);
	return true;
}

static void w_msg(struct writer *w, const struct msg_spec *spec, const struct proto_msg *msg,
		  int side)
{
	struct proto_msg *m = (struct proto_msg *)(uintptr_t)msg;
	bool children = (msg->type == PROTO_MSG_VISIT_EVENT && msg->u.visit.n_items) ||
			(msg->type == PROTO_MSG_PART && msg->u.part.len);

	w_str(w, "<");
	w_str(w, spec->name);
	w_attrs(w, spec->attrs[side], m);
	if (!children) {
		w_str(w, "/>");
		return;
	}
	w_str(w, ">");
	if (msg->type == PROTO_MSG_PART) {
		w_base64(w, msg->u.part.data, msg->u.part.len);
	} else {
		for (size_t i = 0; i < msg->u.visit.n_items; i++) {
			w_str(w, "<item");
			w_attrs(w, spec->items[side], &m->u.visit.items[i]);
			w_str(w, "/>");
		}
	}
	w_str(w, "</");
	w_str(w, spec->name);
	w_str(w, ">");
}

static int encode(const struct proto_msg *msg, struct buf *out, int side)
{
	const struct msg_spec *spec = spec_of(msg->type);
	struct writer w = {out, 0};
	size_t mark = out->len;

	if (!spec || !msg_valid(spec, msg, side)) {
		errno = EINVAL;
		return -1;
	}
	w_msg(&w, spec, msg, side);
	if (side == PROTO_PEER_SERVER)
		w_add(&w, "", 1);
	else
		w_str(&w, "\r\n");
	if (w.err) {
		buf_truncate(out, mark);
		errno = w.err;
		return -1;
	}
	return 0;
}

int proto_encode_server(const struct proto_msg *msg, struct buf *out)
{
	return encode(msg, out, PROTO_PEER_SERVER);
}

int proto_encode_client(const struct proto_msg *msg, struct buf *out)
{
	return encode(msg, out, PROTO_PEER_CLIENT);
}

/* ---- reader: framing ---- */

struct proto_reader {
	enum proto_peer sender; /* decides framing and allowed elements */
	size_t max;             /* largest frame in bytes, terminator (and CR) included */
	struct buf in;          /* buffered stream bytes; unread ones start at pos */
	size_t pos;
	uint64_t base;     /* stream offset of in.data[0] */
	const char *frame; /* last frame looked at, inside in */
	size_t frame_len;
	uint64_t frame_off; /* its stream offset */
	XML_Parser parser;  /* reused from frame to frame */
	bool failed;        /* an error was reported; only reset helps */
	char errmsg[320];
};

static bool max_valid(size_t max)
{
	return max >= PROTO_MIN_MESSAGE && max <= PROTO_MAX_MESSAGE_LIMIT;
}

struct proto_reader *proto_reader_new(enum proto_peer sender, size_t max)
{
	struct proto_reader *r;

	if ((sender != PROTO_PEER_SERVER && sender != PROTO_PEER_CLIENT) || !max_valid(max)) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->sender = sender;
	r->max = max;
	buf_init(&r->in, max + PROTO_FEED_MAX);
	return r;
}

void proto_reader_free(struct proto_reader *r)
{
	if (!r)
		return;
	if (r->parser)
		XML_ParserFree(r->parser);
	buf_free(&r->in);
	free(r);
}

void proto_reader_reset(struct proto_reader *r)
{
	buf_reset(&r->in);
	r->pos = 0;
	r->base = 0;
	r->frame = NULL;
	r->frame_len = 0;
	r->frame_off = 0;
	r->failed = false;
	r->errmsg[0] = '\0';
}

int proto_reader_set_max(struct proto_reader *r, size_t max)
{
	if (!max_valid(max)) {
		errno = EINVAL;
		return -1;
	}
	r->max = max;
	buf_set_max(&r->in, max + PROTO_FEED_MAX);
	return 0;
}

int proto_reader_feed(struct proto_reader *r, const void *data, size_t len)
{
	if (r->failed) {
		errno = EPROTO;
		return -1;
	}
	if (r->pos) {
		buf_consume(&r->in, r->pos);
		r->base += r->pos;
		r->pos = 0;
		r->frame = NULL;
		r->frame_len = 0;
	}
	if (buf_add(&r->in, data, len) < 0) {
		if (errno == E2BIG)
			errno = ENOBUFS;
		return -1;
	}
	return 0;
}

const char *proto_reader_frame(const struct proto_reader *r, size_t *len)
{
	*len = r->frame ? r->frame_len : 0;
	return r->frame;
}

__attribute__((format(printf, 2, 3))) static int reader_fail(struct proto_reader *r,
							     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
	va_end(ap);
	r->failed = true;
	return -1;
}

/*
 * Finds the next complete frame: 1 (FRAME/LEN set, terminator and a line's CR
 * stripped), 0 (need more bytes) or -1 (oversized, NUL in a line; errmsg set).
 */
static int take_frame(struct proto_reader *r, const char **frame, size_t *len)
{
	size_t avail = r->in.len - r->pos, look = avail < r->max ? avail : r->max;
	char term = r->sender == PROTO_PEER_SERVER ? '\0' : '\n';
	const char *start, *end, *nul = NULL;

	if (!avail)
		return 0;
	start = r->in.data + r->pos;
	end = memchr(start, term, look);
	r->frame = start;
	r->frame_len = end ? (size_t)(end - start) : look;
	r->frame_off = r->base + r->pos;
	if (term == '\n')
		nul = memchr(start, '\0', r->frame_len);
	if (nul)
		return reader_fail(
		    r, "message at byte %" PRIu64 ": NUL byte at byte %" PRIu64 " inside a line",
		    r->frame_off, r->frame_off + (uint64_t)(nul - start));
	if (!end && avail >= r->max)
		return reader_fail(r, "message at byte %" PRIu64 ": longer than %zu bytes",
				   r->frame_off, r->max);
	if (!end)
		return 0;
	r->pos += r->frame_len + 1;
	if (term == '\n' && r->frame_len && start[r->frame_len - 1] == '\r')
		r->frame_len--;
	*frame = start;
	*len = r->frame_len;
	return 1;
}

static bool is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_xml_space(s[i]))
			return false;
	return true;
}

/* ---- reader: one frame through expat ---- */

struct parse_ctx {
	XML_Parser parser;
	int side;                    /* the sender */
	struct proto_msg *msg;       /* being filled */
	const struct msg_spec *spec; /* of the root element, once seen */
	unsigned depth;              /* of the element being parsed: 1 = root */
	unsigned long line, col;     /* of the root start tag, 1-based */
	size_t items_cap;
	struct buf body; /* part text */
	bool failed;
	char reason[256];
};

__attribute__((format(printf, 2, 3))) static void ctx_fail(struct parse_ctx *c, const char *fmt,
							   ...)
{
	va_list ap;
	int n;

	if (c->failed)
		return;
	n = snprintf(c->reason, sizeof(c->reason),
		     "%lu:%lu: ", (unsigned long)XML_GetCurrentLineNumber(c->parser),
		     (unsigned long)XML_GetCurrentColumnNumber(c->parser) + 1);
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is above */
	vsnprintf(c->reason + n, sizeof(c->reason) - (size_t)n, fmt, ap);
	va_end(ap);
	c->failed = true;
	XML_StopParser(c->parser, XML_FALSE);
}

static const char *elem_name(const struct parse_ctx *c)
{
	if (c->depth >= 2)
		return "item";
	return c->spec ? c->spec->name : "?";
}

static int parse_number(const char *value, uint64_t max, uint64_t *out)
{
	return util_parse_u64(value, 0, max, out);
}

/* Stores VALUE into the field of A in BASE; 0 or -1 (ctx failed). */
static int attr_decode(struct parse_ctx *c, const struct attr_spec *a, void *base,
		       const char *value)
{
	char tmp[48];
	uint64_t v;

	switch (a->kind) {
	case ATTR_HEX:
		if (!is_auth_hex(value))
			goto bad;
		/* fall through */
	case ATTR_STR:
		*f_str(base, a) = unescape_dup(value);
		if (!*f_str(base, a))
			goto nomem;
		return 0;
	case ATTR_U32:
		if (parse_number(value, UINT32_MAX, &v) < 0)
			goto bad;
		*f_u32(base, a) = (uint32_t)v;
		return 0;
	case ATTR_U64:
		if (parse_number(value, UINT64_MAX, &v) < 0)
			goto bad;
		*f_u64(base, a) = v;
		return 0;
	case ATTR_BOOL:
		if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
			goto bad;
		*f_bool(base, a) = value[0] == '1';
		return 0;
	case ATTR_SIGN:
		if (!strcmp(value, "+") || !strcmp(value, "yes"))
			*f_bool(base, a) = true;
		else if (!strcmp(value, "-") || !strcmp(value, "no"))
			*f_bool(base, a) = false;
		else
			goto bad;
		return 0;
	case ATTR_VISIT:
		for (int t = PROTO_VISIT_START; t <= PROTO_VISIT_ERROR; t++) {
			if (strcmp(value, visit_type_names[t]) == 0) {
				*f_visit(base, a) = (enum proto_visit_type)t;
				return 0;
			}
		}
		goto bad;
	case ATTR_BASE64:
		if (strcmp(value, "base64") != 0)
			goto bad;
		return 0;
	}
bad:
	ctx_fail(c, "<%s> attribute %s=\"%s\": %s", elem_name(c), a->name, sample(value, tmp),
		 a->kind == ATTR_U32     ? "not a decimal number in [0, 4294967295]"
		 : a->kind == ATTR_U64   ? "not a decimal number in [0, 18446744073709551615]"
		 : a->kind == ATTR_BOOL  ? "not 0 or 1"
		 : a->kind == ATTR_SIGN  ? "not +, -, yes or no"
		 : a->kind == ATTR_VISIT ? "not start, finish or error"
		 : a->kind == ATTR_HEX   ? "not 64 hex digits"
					 : "unsupported encoding (only base64)");
	return -1;
nomem:
	ctx_fail(c, "out of memory");
	return -1;
}

/* Fills BASE from the expat attribute list ATTS; unknown attributes are ignored. */
static void parse_attrs(struct parse_ctx *c, const struct attr_spec *attrs, void *base,
			const XML_Char **atts)
{
	uint32_t seen = 0;
	int k;

	for (size_t i = 0; atts[i]; i += 2) {
		for (k = 0; attrs[k].name && strcmp(attrs[k].name, atts[i]) != 0; k++)
			;
		if (!attrs[k].name)
			continue;
		if (attr_decode(c, &attrs[k], base, atts[i + 1]) < 0)
			return;
		seen |= 1u << k;
	}
	for (k = 0; attrs[k].name; k++) {
		if ((attrs[k].flags & REQ) && !(seen & (1u << k))) {
			ctx_fail(c, "<%s> without required attribute %s", elem_name(c),
				 attrs[k].name);
			return;
		}
	}
}

static void start_root(struct parse_ctx *c, const XML_Char *name, const XML_Char **atts)
{
	enum proto_msg_type type = type_by_name(name);
	const struct attr_spec *attrs;
	char tmp[48];

	if (type == PROTO_MSG_NONE) {
		ctx_fail(c, "unknown element <%s>", sample(name, tmp));
		return;
	}
	c->spec = &msg_specs[type];
	attrs = c->spec->attrs[c->side];
	if (!attrs) {
		ctx_fail(c, "<%s> is not a message a %s sends", name,
			 c->side == PROTO_PEER_SERVER ? "server" : "client");
		return;
	}
	c->msg->type = type;
	c->line = (unsigned long)XML_GetCurrentLineNumber(c->parser);
	c->col = (unsigned long)XML_GetCurrentColumnNumber(c->parser) + 1;
	parse_attrs(c, attrs, c->msg, atts);
}

static int grow_items(struct parse_ctx *c)
{
	struct proto_visit *v = &c->msg->u.visit;
	size_t cap = c->items_cap ? 2 * c->items_cap : 8;
	struct proto_item *items = p_realloc(v->items, cap * sizeof(*items));

	if (!items) {
		ctx_fail(c, "out of memory");
		return -1;
	}
	v->items = items;
	c->items_cap = cap;
	return 0;
}

static void start_item(struct parse_ctx *c, const XML_Char **atts)
{
	struct proto_visit *v = &c->msg->u.visit;

	if (v->n_items == PROTO_MAX_ITEMS) {
		ctx_fail(c, "<visit-event> with more than %d items", PROTO_MAX_ITEMS);
		return;
	}
	if (v->n_items == c->items_cap && grow_items(c) < 0)
		return;
	memset(&v->items[v->n_items], 0, sizeof(v->items[0]));
	v->n_items++; /* counted before filling, so a half-parsed item is freed too */
	parse_attrs(c, c->spec->items[c->side], &v->items[v->n_items - 1], atts);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct parse_ctx *c = ud;
	char tmp[48];

	if (c->failed)
		return;
	c->depth++;
	if (c->depth == 1)
		start_root(c, name, atts);
	else if (c->depth == 2 && c->spec->items[c->side] && strcmp(name, "item") == 0)
		start_item(c, atts);
	else
		ctx_fail(c, "unexpected element <%s> inside <%s>", sample(name, tmp),
			 c->depth > 2 ? "item" : c->spec->name);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct parse_ctx *c = ud;

	(void)name;
	if (c->depth)
		c->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct parse_ctx *c = ud;

	if (c->failed)
		return;
	if (c->depth == 1 && c->spec->body) {
		if (buf_add(&c->body, s, (size_t)len) < 0)
			ctx_fail(c, "out of memory");
	} else if (!is_blank(s, (size_t)len)) {
		ctx_fail(c, "unexpected text inside <%s>", elem_name(c));
	}
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
	ctx_fail(ud, "DOCTYPE declarations are not allowed");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
			      int value_len, const XML_Char *base, const XML_Char *sysid,
			      const XML_Char *pubid, const XML_Char *notation)
{
	(void)name, (void)is_param, (void)value, (void)value_len, (void)base;
	(void)sysid, (void)pubid, (void)notation;
	ctx_fail(ud, "entity declarations are not allowed");
}

/* Strictly decodes the part body (surrounding whitespace allowed); NULL or the reason. */
static const char *base64_decode(const char *s, size_t n, struct proto_part *p)
{
	long got;

	while (n && is_xml_space(*s))
		s++, n--;
	while (n && is_xml_space(s[n - 1]))
		n--;
	if (n % 4)
		return "body length is not a multiple of 4: not base64";
	p->data = p_malloc(n / 4 * 3 + 1);
	if (!p->data)
		return "out of memory";
	got = util_base64_decode(s, n, p->data);
	if (got < 0)
		return "body has a character that is not base64"; /* or '=' inside */
	p->len = (size_t)got;
	return NULL;
}

/* Checks that need the whole element; 0 or -1 with the reason in C. */
static int check_complete(struct parse_ctx *c)
{
	struct proto_part *p = &c->msg->u.part;
	const struct proto_visit *v = &c->msg->u.visit;
	const char *why = NULL;
	char tmp[128];

	if (c->msg->type == PROTO_MSG_VISIT_EVENT && c->side == PROTO_PEER_CLIENT &&
	    v->type == PROTO_VISIT_ERROR && v->error_code == 0)
		why = "<visit-event type=\"error\"> without a non-zero error-code";
	if (c->msg->type == PROTO_MSG_PART) {
		why = base64_decode(c->body.data ? c->body.data : "", c->body.len, p);
		if (!why && (p->end < p->start || p->end - p->start != p->len)) {
			snprintf(tmp, sizeof(tmp),
				 "<part> body has %zu bytes, part-start=%" PRIu64
				 " part-end=%" PRIu64,
				 p->len, p->start, p->end);
			why = tmp;
		}
	}
	if (!why)
		return 0;
	snprintf(c->reason, sizeof(c->reason), "%lu:%lu: %s", c->line, c->col, why);
	return -1;
}

/* Gives R a parser with our handlers, new or reset; false when out of memory. */
static bool parser_ready(struct proto_reader *r, struct parse_ctx *c)
{
	if (r->parser && !XML_ParserReset(r->parser, "UTF-8")) {
		XML_ParserFree(r->parser);
		r->parser = NULL;
	}
	if (!r->parser)
		r->parser = XML_ParserCreate_MM("UTF-8", &mem_suite, NULL);
	if (!r->parser)
		return false;
	c->parser = r->parser;
	XML_SetUserData(r->parser, c);
	XML_SetElementHandler(r->parser, on_start, on_end);
	XML_SetCharacterDataHandler(r->parser, on_text);
	XML_SetStartDoctypeDeclHandler(r->parser, on_doctype);
	XML_SetEntityDeclHandler(r->parser, on_entity);
	return true;
}

/* Parses one frame into OUT; 0, or -1 with the reason (position first) in C->reason. */
static int parse_frame(struct proto_reader *r, const char *frame, size_t len, struct proto_msg *out,
		       struct parse_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->side = r->sender;
	c->msg = out;
	buf_init(&c->body, len);
	if (!parser_ready(r, c)) {
		snprintf(c->reason, sizeof(c->reason), "out of memory");
		return -1;
	}
	if (XML_Parse(r->parser, frame, (int)len, XML_TRUE) != XML_STATUS_OK) {
		if (!c->failed)
			snprintf(c->reason, sizeof(c->reason), "%lu:%lu: %s",
				 (unsigned long)XML_GetErrorLineNumber(r->parser),
				 (unsigned long)XML_GetErrorColumnNumber(r->parser) + 1,
				 XML_GetErrorCode(r->parser) == XML_ERROR_NO_MEMORY
				     ? "out of memory"
				     : XML_ErrorString(XML_GetErrorCode(r->parser)));
		buf_free(&c->body);
		return -1;
	}
	if (check_complete(c) < 0) {
		buf_free(&c->body);
		return -1;
	}
	buf_free(&c->body);
	return 0;
}

/* Skips blank frames; 1 (FRAME/LEN set), 0 or -1 as take_frame(). */
static int next_nonblank(struct proto_reader *r, const char **frame, size_t *len)
{
	int rc;

	while ((rc = take_frame(r, frame, len)) > 0 && is_blank(*frame, *len))
		;
	return rc;
}

int proto_reader_next(struct proto_reader *r, struct proto_msg *out, char *err, size_t errlen)
{
	struct parse_ctx ctx;
	const char *frame = NULL;
	size_t len = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!r->failed)
		rc = next_nonblank(r, &frame, &len);
	if (rc == 0)
		return 0;
	if (rc > 0) {
		if (parse_frame(r, frame, len, out, &ctx) == 0)
			return 1;
		proto_msg_free(out);
		reader_fail(r, "message at byte %" PRIu64 ": %s", r->frame_off, ctx.reason);
	}
	if (err && errlen)
		snprintf(err, errlen, "%s", r->errmsg);
	return -1;
}

/* ---- authentication ---- */

int proto_auth_challenge(char hex[PROTO_AUTH_HEX_LEN + 1])
{
	unsigned char nonce[PROTO_AUTH_NONCE_BYTES];

	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		errno = EIO;
		return -1;
	}
	hex_encode(nonce, sizeof(nonce), hex);
	return 0;
}

/* HMAC-SHA256(KEY, the nonce bytes of NONCE_HEX) into MAC; 0 or -1 (EINVAL, EIO). */
static int auth_mac(const void *key, size_t keylen, const char *nonce_hex,
		    unsigned char mac[PROTO_AUTH_NONCE_BYTES])
{
	unsigned char nonce[PROTO_AUTH_NONCE_BYTES];
	unsigned int maclen = 0;

	if (!key || keylen == 0 || keylen > INT_MAX || !nonce_hex ||
	    hex_decode(nonce_hex, nonce, sizeof(nonce)) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (!HMAC(EVP_sha256(), key, (int)keylen, nonce, sizeof(nonce), mac, &maclen) ||
	    maclen != PROTO_AUTH_NONCE_BYTES) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int proto_auth_response(const void *key, size_t keylen, const char *nonce_hex,
			char out_hex[PROTO_AUTH_HEX_LEN + 1])
{
	unsigned char mac[PROTO_AUTH_NONCE_BYTES];

	if (auth_mac(key, keylen, nonce_hex, mac) < 0)
		return -1;
	hex_encode(mac, sizeof(mac), out_hex);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

bool proto_auth_check(const void *key, size_t keylen, const char *nonce_hex,
		      const char *response_hex)
{
	unsigned char want[PROTO_AUTH_NONCE_BYTES], got[PROTO_AUTH_NONCE_BYTES];
	bool ok;

	if (!response_hex || hex_decode(response_hex, got, sizeof(got)) < 0)
		return false;
	if (auth_mac(key, keylen, nonce_hex, want) < 0)
		return false;
	ok = CRYPTO_memcmp(want, got, sizeof(want)) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}
