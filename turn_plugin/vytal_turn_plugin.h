/*
 * The C ABI between vytal-turnserver (coturn with turn_plugin/patches/) and a
 * plugin it loads with `plugin=/path/to/lib.so` (and `plugin-config=STRING`).
 *
 * Loading (host side, at start-up, before any listener opens):
 *   1. dlopen() the file; dlsym("vytal_turn_plugin_entry").
 *   2. Call it with the highest ABI version the host speaks. The plugin
 *      returns its table for a version it also speaks (<= the host's), or
 *      NULL when it speaks none.
 *   3. Check abi_version, every mandatory pointer (init, cleanup,
 *      rest_secrets), then call init(config). Any failure stops the server
 *      with a message naming the reason. There is no fallback that allows
 *      every user.
 *
 * Threading: rest_secrets and the event callbacks are called from coturn's
 * relay threads, concurrently. They must not block: no network or disk
 * waits (a plugin reads files only when they changed and sends reports with
 * non-blocking sockets, dropping and counting when its queue is full).
 *
 * Strings are NUL-terminated UTF-8 and valid only during the call.
 * Structs carry reserved fields: a field added later takes a reserved slot,
 * so version 1 plugins keep working. The host reads a table's fields of a
 * later version only when its abi_version says it has them.
 *
 * Version 2 adds quota_key, on_refusal and the refusal event, and the
 * session totals of the usage event. Version 3 adds pending_reports.
 * Version 4 adds revocations_version.
 */
#ifndef VYTAL_TURN_PLUGIN_H
#define VYTAL_TURN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VYTAL_TURN_PLUGIN_ABI_VERSION 4
#define VYTAL_TURN_PLUGIN_MAX_SECRETS 4

enum vytal_turn_allocation_event_kind {
  VYTAL_TURN_ALLOCATION_CREATED = 1,
  VYTAL_TURN_ALLOCATION_REFRESHED = 2,
  VYTAL_TURN_ALLOCATION_DELETED = 3,
};

struct vytal_turn_allocation_event {
  int kind;             /* enum vytal_turn_allocation_event_kind */
  uint64_t session_id;  /* coturn's id of the client session */
  const char* username; /* the REST username: "<expiry>:<user id>" */
  const char* realm;
  const char* client_address; /* "ip:port" */
  const char* relay_address;  /* "ip:port", may be empty */
  const char* transport;      /* "udp", "tcp", "tls", "dtls" */
  uint32_t lifetime_s;        /* created/refreshed: the allocation's lifetime */
  uint64_t reserved[6];
};

struct vytal_turn_usage_event {
  uint64_t session_id;
  const char* username;
  const char* realm;
  uint64_t bytes_sent; /* since the previous report of this session */
  uint64_t bytes_received;
  uint64_t packets_sent;
  uint64_t packets_received;
  int final; /* 1 on the session's last report */
  /* Version 2: the session's totals so far, this report included. */
  uint64_t total_bytes_sent;
  uint64_t total_bytes_received;
  uint64_t total_packets_sent;
  uint64_t total_packets_received;
  uint64_t reserved[2];
};

/* Version 2. What the host refused on its own (the plugin's own refusals,
 * rest_secrets and still_allowed, it knows already). */
enum vytal_turn_refusal_kind {
  VYTAL_TURN_REFUSED_QUOTA = 1,     /* 486: user-quota or total-quota reached */
  VYTAL_TURN_REFUSED_PEER = 2,      /* 403: a peer address the relay policy denies */
  VYTAL_TURN_REFUSED_PEER_PORT = 3, /* 403: the server's own address outside the relay ports */
};

struct vytal_turn_refusal_event {
  int kind; /* enum vytal_turn_refusal_kind */
  int code; /* the STUN error code answered; 0 for an indication (dropped) */
  uint64_t session_id;
  const char* username; /* may be empty */
  const char* realm;
  const char* peer_address; /* "ip:port" for peer refusals, else "" */
  uint64_t reserved[6];
};

struct vytal_turn_plugin {
  int abi_version; /* VYTAL_TURN_PLUGIN_ABI_VERSION of this table */

  /* Mandatory. config is the plugin-config= value ("" when unset). Returns 0,
   * or -1 with a reason in err (NUL-terminated, at most err_len bytes). */
  int (*init)(const char* config, char* err, size_t err_len);
  /* Mandatory. Called once at shutdown. */
  void (*cleanup)(void);

  /* Mandatory. The shared secrets under which a REST-API username may be
   * checked (use-auth-secret): writes up to max NUL-terminated secrets (each
   * buffer holds 256 bytes) into secrets and returns how many; 0 refuses the
   * user (revoked, key ring unreadable). The host checks the timestamp and
   * the HMAC itself, trying each secret in turn. */
  int (*rest_secrets)(const char* username, const char* realm, char secrets[][256], int max);

  /* Optional (NULL when not wanted). */
  void (*on_allocation)(const struct vytal_turn_allocation_event* event);
  void (*on_usage)(const struct vytal_turn_usage_event* event);
  /* Optional. Asked before every authenticated request of a session whose
   * key coturn has cached (a permission, a channel bind, a refresh except
   * one to lifetime 0, which only ends the allocation): 1 lets it through,
   * 0 refuses it with 403 (the user was revoked meanwhile). Also asked
   * about every session holding an allocation, every 250 ms per relay
   * thread: 0 ends the allocation there and then (final usage, deleted), so
   * it must be cheap. */
  int (*still_allowed)(const char* username, const char* realm);

  /* Version 2, optional. The name user-quota counts this user under: writes
   * it NUL-terminated into key (key_len bytes) and returns 0; non-zero lets
   * coturn use its own (the name after the REST timestamp). It must depend
   * on username alone: coturn asks when an allocation takes its quota and
   * again when it gives it back. */
  int (*quota_key)(const char* username, const char* realm, char* key, size_t key_len);
  /* Version 2, optional. The host refused a request (see the event). */
  void (*on_refusal)(const struct vytal_turn_refusal_event* event);

  /* Version 3, optional. How many reports wait to be sent (a session's last
   * ones that its receiver could not take yet). The host, stopping, asks
   * after its relay threads reported their sessions and ends the process
   * only once none wait (at most 2 s in all). Never waits for the socket. */
  int (*pending_reports)(void);

  /* Version 4, optional. A number that changes whenever still_allowed may
   * have started refusing someone (the plugin took a new revocations list),
   * and stays the same otherwise. The host's sweep (every 250 ms per relay
   * thread) then asks still_allowed about its sessions only in the rounds
   * after a change, until a round finds nobody refused, instead of every
   * round. Must be cheap: asked 4 times a second per relay thread. */
  uint64_t (*revocations_version)(void);

  void* reserved[3];
};

/* The one exported symbol. */
typedef const struct vytal_turn_plugin* (*vytal_turn_plugin_entry_fn)(int host_max_abi_version);
const struct vytal_turn_plugin* vytal_turn_plugin_entry(int host_max_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* VYTAL_TURN_PLUGIN_H */
