/*
 * protocol.h - codec of the Capture-HPC wire protocol (TCP 7070): typed
 * messages, encoders, a streaming decoder, error codes and the HMAC handshake.
 *
 * Contract.  The server sends one XML element per message terminated by a NUL
 * byte; a client sends one element per line ("\r\n"; a bare "\n" is accepted).
 * A message is a struct proto_msg: a type and the attributes of that element,
 * already checked (required attributes present, numbers in range, base64 part
 * bodies decoded and their length equal to part-end - part-start).  Unknown
 * attributes are ignored, as an original peer ignores ours; unknown elements,
 * elements the sender may not send, DOCTYPE/entity declarations, text outside
 * <part>, a frame longer than the reader's maximum and a NUL byte inside a
 * client line are errors.  An error names its reason and position (stream
 * byte of the message, expat line:column) and leaves the reader failed until
 * proto_reader_reset(): the caller logs it and closes the connection.
 *
 * Strings are byte strings (any bytes but NUL) and survive a round trip
 * byte-exact: valid UTF-8 goes on the wire as text (XML-escaped, so an
 * original peer reads the same characters), and each byte that XML cannot
 * carry (invalid UTF-8, C0 controls other than TAB/LF/CR, the characters
 * U+FFFE/U+FFFF and our escape character U+FDD0 itself) is written as
 * U+FDD0 followed by two upper-case hex digits.  Nothing else is touched, so
 * backslashes in Windows paths and exclusion regexes reach original peers
 * unchanged.  Details, limits and the negotiated extensions (capture-version,
 * HMAC challenge): docs/protocol.md.
 *
 * Decoded messages own their strings (proto_msg_free()); a message built by
 * a caller for an encoder may point at the caller's memory and is only read.
 */
#ifndef CAPTURE_PROTOCOL_H
#define CAPTURE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define PROTO_PORT                7070     /* default TCP port */
#define PROTO_SERVER_VERSION      "2.5"    /* value of server= in the server's <connect> */
#define PROTO_VERSION             1        /* our capture-version; 0 = original peer */
#define PROTO_PART_SIZE           8192     /* bytes of file data per <part> */
#define PROTO_MAX_ITEMS           65536    /* <item>s per <visit-event> */
#define PROTO_MAX_MESSAGE_DEFAULT 1048576  /* bytes per message (frame), authenticated peer */
#define PROTO_MAX_MESSAGE_PREAUTH 1024     /* bytes per message before authentication */
#define PROTO_MAX_MESSAGE_LIMIT   67108864 /* largest maximum a reader accepts */
#define PROTO_MIN_MESSAGE         64       /* smallest maximum a reader accepts */
#define PROTO_FEED_MAX            65536    /* bytes per proto_reader_feed() after a drain */
#define PROTO_AUTH_NONCE_BYTES    32       /* random bytes of a challenge */
#define PROTO_AUTH_HEX_LEN        64       /* hex digits of a challenge or a response */

/* Who sent a message; decides the framing and which elements are allowed. */
enum proto_peer {
	PROTO_PEER_SERVER = 0, /* capture-server: NUL-terminated frames */
	PROTO_PEER_CLIENT = 1, /* capture-client: one frame per line */
};

enum proto_msg_type {
	PROTO_MSG_NONE = 0,
	PROTO_MSG_CONNECT,              /* both directions, see struct proto_connect */
	PROTO_MSG_RECONNECT,            /* C->S */
	PROTO_MSG_AUTH,                 /* C->S, extension: answer to the challenge */
	PROTO_MSG_OPTION,               /* S->C */
	PROTO_MSG_FILE_EXCLUSION,       /* S->C */
	PROTO_MSG_REGISTRY_EXCLUSION,   /* S->C */
	PROTO_MSG_PROCESS_EXCLUSION,    /* S->C */
	PROTO_MSG_CONNECTION_EXCLUSION, /* S->C (the original client had no handler) */
	PROTO_MSG_PING,                 /* S->C */
	PROTO_MSG_PONG,                 /* C->S */
	PROTO_MSG_VISIT_EVENT,          /* S->C: visit a group; C->S: start/finish/error */
	PROTO_MSG_SYSTEM_EVENT,         /* C->S */
	PROTO_MSG_FILE,                 /* C->S: request to upload */
	PROTO_MSG_FILE_ACCEPT,          /* S->C */
	PROTO_MSG_FILE_REJECT,          /* S->C (understood by the original client) */
	PROTO_MSG_PART,                 /* C->S: one chunk of an upload */
	PROTO_MSG_FILE_FINISHED,        /* C->S */
	PROTO_MSG_CLIENT,               /* C->S, no attributes, ignored */
	PROTO_MSG_COUNT
};

/* connect (both directions) and reconnect (C->S). */
struct proto_connect {
	char *server;             /* S->C server=, required ("2.5") */
	char *challenge;          /* S->C, optional: PROTO_AUTH_HEX_LEN hex digits */
	char *vm_server_id;       /* C->S vm-server-id=, required */
	char *vm_id;              /* C->S vm-id=, required */
	uint32_t capture_version; /* both, optional: 0 = original peer (attribute absent) */
};

struct proto_auth {
	char *response; /* response=: HMAC-SHA256(key, nonce) in hex, required */
};

struct proto_option {
	char *name;  /* required, e.g. "collect-modified-files" */
	char *value; /* required, e.g. "true" */
};

/* The four *-exclusion messages: one rule of an exclusion list. */
struct proto_exclusion {
	bool excluded; /* excluded= "+" (or "yes"): the event is noise; "-" (or "no") */
	char *action;  /* required: column 2 (key) */
	char *subject; /* required: column 3 (regex) */
	char *object;  /* required: column 4 (regex) */
};

enum proto_visit_type {
	PROTO_VISIT_REQUEST = 0, /* S->C: the server asks for a visit (no type=) */
	PROTO_VISIT_START,       /* C->S type="start" */
	PROTO_VISIT_FINISH,      /* C->S type="finish" */
	PROTO_VISIT_ERROR,       /* C->S type="error" (error-code then required) */
};

/* One URL of a visit-event. */
struct proto_item {
	char *id;                  /* S->C id=: URL id or "null", required */
	char *url;                 /* both, required */
	char *program;             /* C->S, optional */
	char *time;                /* C->S, optional: client clock */
	uint32_t process_id;       /* C->S processId=, 0 = unknown */
	uint32_t major_error_code; /* C->S, enum proto_error */
	uint32_t minor_error_code; /* C->S */
	bool visited;              /* C->S visited= "1" */
};

struct proto_visit {
	enum proto_visit_type type; /* C->S type=, required there */
	char *identifier;           /* both: group id, required */
	char *program;              /* both: application to drive, required */
	uint32_t visit_time_s;      /* S->C time=: seconds per visit, required */
	char *time;                 /* C->S time=: client clock, required */
	char *algorithm;            /* C->S, optional: "seq", "dac" or "bulk" */
	bool malicious;             /* C->S malicious= "0"/"1", required */
	uint32_t error_code;        /* C->S error-code=: required, non-zero, when type=error */
	size_t n_items;             /* at most PROTO_MAX_ITEMS */
	struct proto_item *items;
};

struct proto_system_event {
	char *time;          /* required: client clock */
	char *type;          /* required: "process", "file", "connection", ... */
	uint32_t process_id; /* processId=, optional (0) */
	char *process;       /* required: image path of the actor */
	char *action;        /* required */
	char *object1;       /* required */
	char *object2;       /* optional */
};

/* file, file-finished (name, size, type) and file-accept, file-reject (name). */
struct proto_file {
	char *name;    /* required */
	uint64_t size; /* bytes, required in file and file-finished */
	char *type;    /* optional: extension, e.g. "zip" */
};

/* part: bytes [start, end) of an upload; encoding is always base64. */
struct proto_part {
	char *name;          /* required: the name given in <file> */
	uint64_t start;      /* part-start=, required */
	uint64_t end;        /* part-end=, required; end - start == len */
	unsigned char *data; /* decoded body */
	size_t len;
};

struct proto_msg {
	enum proto_msg_type type;
	union {
		struct proto_connect connect;     /* CONNECT, RECONNECT */
		struct proto_auth auth;           /* AUTH */
		struct proto_option option;       /* OPTION */
		struct proto_exclusion exclusion; /* the four *_EXCLUSION */
		struct proto_visit visit;         /* VISIT_EVENT */
		struct proto_system_event event;  /* SYSTEM_EVENT */
		struct proto_file file; /* FILE, FILE_ACCEPT, FILE_REJECT, FILE_FINISHED */
		struct proto_part part; /* PART */
	} u;
};

/* Error codes of the original (ERROR_CODES.java / ErrorCodes.h), decimal as on the wire. */
enum proto_error {
	PROTO_ERR_OK = 0,
	PROTO_ERR_PRESTART = 268435713,                           /* 0x10000101 */
	PROTO_ERR_START = 268435714,                              /* 0x10000102 */
	PROTO_ERR_FINISH = 268435715,                             /* 0x10000103 */
	PROTO_ERR_POSTFINISH = 268435716,                         /* 0x10000104 */
	PROTO_ERR_NETWORK_ERROR = 268435728,                      /* 0x10000110 */
	PROTO_ERR_PROCESS_ERROR = 268435729,                      /* 0x10000111 */
	PROTO_ERR_TIMEOUT_ERROR = 268435730,                      /* 0x10000112 */
	PROTO_ERR_VISITATION_MULTIPLE_ERRORS = 268435731,         /* 0x10000113 */
	PROTO_ERR_ATTACH_PROCESS_ERROR = 268435732,               /* 0x10000114 */
	PROTO_ERR_VISITATION_EXCEPTION = 268435968,               /* 0x10000200 */
	PROTO_ERR_VISITATION_WARNING = 268436224,                 /* 0x10000300 */
	PROTO_ERR_CAPTURE_CLIENT_INACTIVITY = 268451840,          /* 0x10004000 */
	PROTO_ERR_VM_STALLED = 268452096,                         /* 0x10004100 */
	PROTO_ERR_CAPTURE_CLIENT_CONNECTION_RESET = 268452352,    /* 0x10004200 */
	PROTO_ERR_SOCKET_ERROR = 268452608,                       /* 0x10004300 */
	PROTO_ERR_PE_PROCESS_TERMINATED_FORCEFULLY = 268455936,   /* 0x10005000, minor */
	PROTO_ERR_PE_PROCESS_ALREADY_TERMINATED = 268455937,      /* 0x10005001, minor */
	PROTO_ERR_PE_PROCESS_PATH_NOT_FOUND = 268455938,          /* 0x10005002, minor */
	PROTO_ERR_PE_SENT_URL_TO_DISCONNECTED_CLIENT = 268455939, /* 0x10005003, minor */
	PROTO_ERR_NE_CANT_DOWNLOAD_TEMP_FILE = 268455936,         /* 0x10005000 (sic), minor */
	PROTO_ERR_NE_CONNECT_ERROR_DL_TEMP_FILE = 268455937,      /* 0x10005001 (sic), minor */
	PROTO_ERR_INVALID_ERROR_CODE_FROM_CLIENT = 268460032,     /* 0x10006000 */
	PROTO_ERR_INVALID_URL = 268464128,                        /* 0x10007000 */
	/* ours (an original server logs them as INVALID_ERROR_CODE_FROM_CLIENT) */
	PROTO_ERR_EVENTS_LOST = 268468224,   /* 0x10008000: sensor records lost, nothing reported;
					      * minor = records lost (capped) */
	PROTO_ERR_SANDBOX_ERROR = 268468480, /* 0x10008100: the guest could not be set up */
};

/* The original's name of CODE ("NETWORK_ERROR"), or NULL if it has none. */
const char *proto_error_name(uint32_t code);

/* Element name of TYPE ("visit-event"), or NULL. */
const char *proto_msg_name(enum proto_msg_type type);
/* Zeroes MSG and sets its type. */
void proto_msg_init(struct proto_msg *msg, enum proto_msg_type type);
/* Frees what a decoded MSG owns and leaves it as PROTO_MSG_NONE. */
void proto_msg_free(struct proto_msg *msg);
/* True if A and B have the same type and equal fields (strings and part bytes compared). */
bool proto_msg_equal(const struct proto_msg *a, const struct proto_msg *b);

/* Appends MSG as the server sends it (element + NUL); 0, or -1 with errno and OUT unchanged. */
int proto_encode_server(const struct proto_msg *msg, struct buf *out);
/* Appends MSG as a client sends it (element + "\r\n"); 0, or -1 with errno and OUT unchanged. */
int proto_encode_client(const struct proto_msg *msg, struct buf *out);

/* Points MSG at part [START, START+n) of upload NAME, n = min(LEN, PROTO_PART_SIZE); returns n. */
size_t proto_part_set(struct proto_msg *msg, const char *name, uint64_t start, const void *data,
		      size_t len);

struct proto_reader;

/* New decoder for what SENDER sends, frames of at most MAX bytes; NULL with errno. */
struct proto_reader *proto_reader_new(enum proto_peer sender, size_t max);
/* Frees R (NULL is fine). */
void proto_reader_free(struct proto_reader *r);
/* Forgets buffered bytes and any error: R reads a new stream. */
void proto_reader_reset(struct proto_reader *r);
/* Changes the frame maximum (e.g. after authentication); 0, or -1 with EINVAL. */
int proto_reader_set_max(struct proto_reader *r, size_t max);
/* Buffers LEN bytes; 0, or -1 with errno EPROTO (failed reader) or ENOBUFS (drain first). */
int proto_reader_feed(struct proto_reader *r, const void *data, size_t len);
/* Decodes the next message into OUT (overwritten): 1 message, 0 need more, -1 error in ERR. */
int proto_reader_next(struct proto_reader *r, struct proto_msg *out, char *err, size_t errlen);
/* The last frame looked at (valid until the next feed or reset), for logging a sample. */
const char *proto_reader_frame(const struct proto_reader *r, size_t *len);

/* Writes a fresh random challenge (PROTO_AUTH_HEX_LEN hex digits + NUL); 0 or -1. */
int proto_auth_challenge(char hex[PROTO_AUTH_HEX_LEN + 1]);
/* Writes HMAC-SHA256(KEY, nonce bytes) in hex for the challenge NONCE_HEX; 0 or -1 (EINVAL). */
int proto_auth_response(const void *key, size_t keylen, const char *nonce_hex,
			char out_hex[PROTO_AUTH_HEX_LEN + 1]);
/* True if RESPONSE_HEX answers NONCE_HEX under KEY; compares in constant time. */
bool proto_auth_check(const void *key, size_t keylen, const char *nonce_hex,
		      const char *response_hex);

/* Tests only: the Nth allocation of the decoder from now on fails (0 = never). */
void proto_test_fail_alloc(unsigned long n);

#endif
