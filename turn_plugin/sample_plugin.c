/*
 * A tiny sample of a vytal-turnserver plugin (vytal_turn_plugin.h), built
 * in-tree for the tests:
 *   cc -shared -fPIC -I turn_plugin -o sample.so turn_plugin/sample_plugin.c
 * - plugin-config=SECRET is the one REST API shared secret; init fails when
 *   it is empty.
 * - A username ending in ":revoked" gets no secret (refused).
 * - With VYTAL_SAMPLE_PLUGIN_LOG=FILE set, every allocation and usage event
 *   is appended to FILE as one line (one write() per line on an O_APPEND
 *   descriptor, so concurrent relay threads do not interleave).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vytal_turn_plugin.h"

static char secret[256];
static int log_fd = -1;

static void log_line(const char *line, int len) {
  if (log_fd >= 0 && len > 0)
    (void)!write(log_fd, line, (size_t)len < 1024 ? (size_t)len : 1023);
}

static int sample_init(const char *config, char *err, size_t err_len) {
  const char *path = getenv("VYTAL_SAMPLE_PLUGIN_LOG");
  if (!config || !config[0] || strlen(config) >= sizeof(secret)) {
    snprintf(err, err_len, "plugin-config must be the shared secret (1..255 bytes)");
    return -1;
  }
  strcpy(secret, config);
  if (path && path[0] && (log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
    snprintf(err, err_len, "cannot open VYTAL_SAMPLE_PLUGIN_LOG %s", path);
    return -1;
  }
  return 0;
}

static void sample_cleanup(void) {
  log_line("cleanup\n", 8);
  if (log_fd >= 0)
    close(log_fd);
  log_fd = -1;
}

static int sample_rest_secrets(const char *username, const char *realm, char secrets[][256], int max) {
  static const char revoked[] = ":revoked";
  size_t n = strlen(username), r = sizeof(revoked) - 1;
  (void)realm;
  if (max < 1 || (n >= r && strcmp(username + n - r, revoked) == 0))
    return 0;
  memcpy(secrets[0], secret, sizeof(secret));
  return 1;
}

static void sample_on_allocation(const struct vytal_turn_allocation_event *e) {
  static const char *const kinds[] = {"?", "created", "refreshed", "deleted"};
  char line[1024];
  int len = snprintf(line, sizeof(line),
                     "allocation %s session=%" PRIu64 " user=%s realm=%s client=%s relay=%s transport=%s lifetime=%u\n",
                     kinds[e->kind >= 1 && e->kind <= 3 ? e->kind : 0], e->session_id, e->username, e->realm,
                     e->client_address, e->relay_address, e->transport, (unsigned)e->lifetime_s);
  log_line(line, len);
}

static void sample_on_usage(const struct vytal_turn_usage_event *e) {
  char line[1024];
  int len = snprintf(line, sizeof(line),
                     "usage session=%" PRIu64 " user=%s realm=%s bytes_sent=%" PRIu64 " bytes_received=%" PRIu64
                     " packets_sent=%" PRIu64 " packets_received=%" PRIu64 " final=%d\n",
                     e->session_id, e->username, e->realm, e->bytes_sent, e->bytes_received, e->packets_sent,
                     e->packets_received, e->final);
  log_line(line, len);
}

static const struct vytal_turn_plugin table = {
    .abi_version = 1, /* it fills version 1's fields only: any host takes it */
    .init = sample_init,
    .cleanup = sample_cleanup,
    .rest_secrets = sample_rest_secrets,
    .on_allocation = sample_on_allocation,
    .on_usage = sample_on_usage,
};

const struct vytal_turn_plugin *vytal_turn_plugin_entry(int host_max_abi_version) {
  return host_max_abi_version >= 1 ? &table : NULL;
}
