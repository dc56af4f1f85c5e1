/* test-protocol.c — every close rule of DESIGN.md §5, over real TCP with hand-built
 * frames (clients/raw.py): the peer's close codes echoed, an empty close answered empty,
 * invalid codes and 1-byte payloads → 1002, a bad UTF-8 reason → 1007, protocol
 * violations → 1002, bad UTF-8 text → 1007 (also inside an incomplete frame), messages
 * over the limit → 1009. Each case checks the exact close frame the server sends, that
 * it is the only frame (nothing of a bad message is delivered), that the server then
 * closes TCP, and how on_close reported the end. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "harness.h"

#define CLIENT_MS 30000

struct pcase {
    const char *name;
    const char *path;     /* "hs" action; NULL: /echo */
    const char *sends[6]; /* raw.py actions after the 101 */
    const char *close;    /* the close line expected from the server */
    int on_close_code;    /* what on_close reports */
    int reason;           /* lapps_close_reason */
    int frames;           /* frames the server sends in all (0: just the close) */
    int messages;         /* messages delivered to the service */
};

#define PEER(code_)                                                                                \
    {                                                                                              \
        "peer close " #code_, NULL, {"frame:op=8,code=" #code_ ",reason=bye"},                     \
            "close " #code_ " ", code_, LAPPS_CLOSED_BY_PEER, 0, 0                                 \
    }
#define BADCODE(code_)                                                                             \
    {                                                                                              \
        "invalid close code " #code_, NULL, {"frame:op=8,code=" #code_}, "close 1002 ", 1002,      \
            LAPPS_CLOSED_PROTOCOL, 0, 0                                                            \
    }
#define PROTO(name_, ...)                                                                          \
    {                                                                                              \
        name_, NULL, {__VA_ARGS__}, "close 1002 ", 1002, LAPPS_CLOSED_PROTOCOL, 0, 0               \
    }
#define UTF8(name_, ...)                                                                           \
    {                                                                                              \
        name_, NULL, {__VA_ARGS__}, "close 1007 ", 1007, LAPPS_CLOSED_PROTOCOL, 0, 0               \
    }
#define BIG(name_, ...)                                                                            \
    {                                                                                              \
        name_, "hs:/small", {__VA_ARGS__}, "close 1009 ", 1009, LAPPS_CLOSED_PROTOCOL, 0, 0        \
    }

static struct pcase cases[] = {
    /* The peer closes with a valid code: the same code comes back. */
    PEER(1000),
    PEER(1001),
    PEER(1002),
    PEER(1003),
    PEER(1007),
    PEER(1008),
    PEER(1009),
    PEER(1010),
    PEER(1011),
    PEER(1012),
    PEER(1013),
    PEER(1014),
    PEER(3000),
    PEER(3999),
    PEER(4000),
    PEER(4999),
    {"empty close", NULL, {"frame:op=8"}, "close empty", 1005, LAPPS_CLOSED_BY_PEER, 0, 0},
    {"character split across fragments",
     NULL,
     {"frame:fin=0,hex=c3", "frame:op=0,hex=a9", "frame:op=8,code=1000"},
     "close 1000 ",
     1000,
     LAPPS_CLOSED_BY_PEER,
     2,
     1},
    {"empty fragments make an empty message",
     NULL,
     {"frame:fin=0,str=", "frame:op=0,fin=0,str=", "frame:op=0,str=", "frame:op=8,code=1000"},
     "close 1000 ",
     1000,
     LAPPS_CLOSED_BY_PEER,
     2,
     1},
    {"close with a UTF-8 reason; a frame after it is ignored",
     NULL,
     {"frame:op=8,code=1000,reason=d\xc3\xa9j\xc3\xa0", "frame:str=after close"},
     "close 1000 ",
     1000,
     LAPPS_CLOSED_BY_PEER,
     0,
     0},
    /* Codes that may not appear on the wire. */
    BADCODE(0),
    BADCODE(1),
    BADCODE(999),
    BADCODE(1004),
    BADCODE(1005),
    BADCODE(1006),
    BADCODE(1015),
    BADCODE(1016),
    BADCODE(1100),
    BADCODE(2000),
    BADCODE(2999),
    BADCODE(5000),
    BADCODE(65535),
    PROTO("1-byte close payload", "frame:op=8,hex=03"),
    UTF8("close reason not UTF-8", "frame:op=8,code=1000,rhex=ff"),
    UTF8("close reason cut inside a character", "frame:op=8,code=1000,rhex=6f6bce"),
    PROTO("close payload over 125 bytes", "frame:op=8,code=1000,len=124"),
    PROTO("fragmented close", "frame:op=8,fin=0,code=1000"),
    /* Framing. */
    PROTO("unmasked frame", "frame:mask=0,str=hello"),
    PROTO("unmasked close", "frame:op=8,mask=0,code=1000"),
    PROTO("RSV1 set", "frame:rsv=4,str=hello"),
    PROTO("RSV2 set", "frame:rsv=2,str=hello"),
    PROTO("RSV3 set", "frame:rsv=1,str=hello"),
    PROTO("RSV on a ping", "frame:op=9,rsv=7"),
    PROTO("opcode 3", "frame:op=3,str=x"),
    PROTO("opcode 4", "frame:op=4"),
    PROTO("opcode 5", "frame:op=5"),
    PROTO("opcode 6", "frame:op=6"),
    PROTO("opcode 7", "frame:op=7,str=x"),
    PROTO("opcode 11", "frame:op=11,str=x"),
    PROTO("opcode 12", "frame:op=12"),
    PROTO("opcode 13", "frame:op=13"),
    PROTO("opcode 14", "frame:op=14"),
    PROTO("opcode 15", "frame:op=15,str=x"),
    PROTO("ping without FIN", "frame:op=9,fin=0,str=p"),
    PROTO("ping of 126 bytes", "frame:op=9,len=126"),
    PROTO("pong of 126 bytes", "frame:op=10,len=126"),
    PROTO("continuation with no message", "frame:op=0,str=x"),
    PROTO("continuation with no message, not FIN", "frame:op=0,fin=0,str=x"),
    PROTO("text inside a fragmented message", "frame:fin=0,str=a", "frame:str=b"),
    PROTO("binary inside a fragmented message", "frame:fin=0,op=2,str=a", "frame:op=2,str=b"),
    PROTO("64-bit length with its top bit set", "hex:82ff800000000000000000000000"),
    PROTO("16-bit length for 5 bytes", "hex:81fe000500000000"
                                       "68656c6c6f"),
    PROTO("64-bit length for 100 bytes", "hex:82ff000000000000006400000000"),
    /* Text that is not UTF-8. */
    UTF8("invalid byte", "frame:hex=68ff"),
    UTF8("overlong encoding", "frame:hex=c080"),
    UTF8("surrogate", "frame:hex=eda080"),
    UTF8("above U+10FFFF", "frame:hex=f4908080"),
    UTF8("message ends inside a character", "frame:fin=0,hex=ce", "frame:op=0,str="),
    UTF8("bad byte in the last fragment", "frame:fin=0,str=hello", "frame:op=0,hex=ff"),
    UTF8("bad byte in a frame not yet complete", "frame:hdrlen=100,hex=41ff"),
    /* Over the service's 1 KiB limit. */
    BIG("one frame over the limit", "frame:op=2,len=1025"),
    BIG("fragments over the limit", "frame:op=2,fin=0,len=600", "frame:op=0,len=600"),
    BIG("header announcing 1 TiB", "frame:op=2,hdrlen=1099511627776"),
    /* Before an error, earlier messages are delivered; nothing after. */
    {"error after a good message",
     NULL,
     {"frame:str=fine", "frame:mask=0,str=bad", "frame:str=after"},
     "close 1002 ",
     1002,
     LAPPS_CLOSED_PROTOCOL,
     2,
     1},
    {"1024 bytes is within the limit",
     "hs:/small",
     {"frame:op=2,len=1024", "frame:op=8,code=1000"},
     "close 1000 ",
     1000,
     LAPPS_CLOSED_BY_PEER,
     2,
     1},
};

#define N_CASES (sizeof cases / sizeof cases[0])

/* Criterion copies parameters into a fresh process where the table's string pointers
 * may differ: the parameter is the index into the table. */
ParameterizedTestParameters(protocol, close_rules)
{
    static int idx[N_CASES];
    for (size_t i = 0; i < N_CASES; i++)
        idx[i] = (int)i;
    return cr_make_param_array(int, idx, N_CASES);
}

ParameterizedTest(int *ci, protocol, close_rules, .timeout = 60)
{
    cr_assert_lt((size_t)*ci, N_CASES);
    const struct pcase *pc = &cases[*ci];
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1, .close_ms = 2000});
    const char *argv[16];
    size_t n = 0;
    argv[n++] = s.port_str;
    argv[n++] = pc->path ? pc->path : "hs";
    argv[n++] = "http";
    for (size_t i = 0; i < 6 && pc->sends[i]; i++)
        argv[n++] = pc->sends[i];
    argv[n++] = "read";
    while (n < 16)
        argv[n++] = NULL;
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", argv[0], argv[1], argv[2], argv[3], argv[4],
                        argv[5], argv[6], argv[7], argv[8], argv[9], argv[10], NULL);
    cr_assert_eq(rc, 0, "%s: client failed:\n%s", pc->name, out);
    cr_assert(api_has_line(out, "http 101"), "%s:\n%s", pc->name, out);
    cr_assert(api_has_line(out, pc->close), "%s: expected \"%s\":\n%s", pc->name, pc->close, out);
    cr_assert(api_has_line(out, "eof"), "%s: the server must close TCP after its close:\n%s",
              pc->name, out);
    int frames = pc->frames ? pc->frames : 1;
    cr_assert_eq(api_count_prefix(out, "frame "), frames, "%s: %d frames expected:\n%s", pc->name,
                 frames, out);
    /* The close frame is the last one. */
    const char *last = NULL;
    for (const char *q = out; (q = api_find_prefix(q, "frame ")) != NULL;) {
        last = q;
        q = strchr(q, '\n');
        if (!q)
            break;
        q++;
    }
    cr_assert(last && strncmp(last, "frame 8 1 ", 10) == 0, "%s: last frame not a close:\n%s",
              pc->name, out);
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000), "%s: on_close missing", pc->name);
    cr_assert_eq(atomic_load(&s.c.opens), 1);
    cr_assert_eq(atomic_load(&s.c.last_code), pc->on_close_code, "%s: on_close code %d", pc->name,
                 atomic_load(&s.c.last_code));
    cr_assert_eq(atomic_load(&s.c.last_reason), pc->reason, "%s: on_close reason %d", pc->name,
                 atomic_load(&s.c.last_reason));
    cr_assert_eq(atomic_load(&s.c.messages), pc->messages, "%s: %d messages delivered", pc->name,
                 atomic_load(&s.c.messages));
    api_server_finish(&s);
}

/* A client that breaks the protocol and then neither closes nor reads: the server's
 * close timeout ends the connection anyway. */
Test(protocol, silent_peer_after_error_is_dropped_at_close_timeout, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1, .close_ms = 300});
    struct api_proc p;
    api_python_spawn(&p, "raw.py", s.port_str, "hs", "http", "frame:mask=0,str=x", "sleep:20000",
                     NULL);
    cr_assert(api_wait_all_closed(&s, 1, 15000), "no on_close after the close timeout");
    cr_assert_eq(atomic_load(&s.c.last_code), 1002);
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_PROTOCOL);
    api_proc_kill(&p, SIGTERM, 5000);
    api_proc_free(&p);
    api_server_finish(&s);
}
