// RAII ownership of the C handles the appliance uses (jansson, SQLite,
// OpenSSL, libevent, libmicrohttpd, libcurl, libpq). Each alias is a
// std::unique_ptr with a stateless deleter, so it costs one pointer.
#pragma once

#include <curl/curl.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include <memory>

namespace vytal {

template <typename T, void (*Free)(T*)>
struct CDeleter {
  void operator()(T* p) const noexcept {
    if (p) Free(p);
  }
};

template <typename T, void (*Free)(T*)>
using CHandle = std::unique_ptr<T, CDeleter<T, Free>>;

inline void json_release(json_t* j) { json_decref(j); }
inline void sqlite_close(sqlite3* db) { sqlite3_close_v2(db); }
inline void stmt_finalize(sqlite3_stmt* s) { sqlite3_finalize(s); }

using JsonPtr = CHandle<json_t, json_release>;
using SqlitePtr = CHandle<sqlite3, sqlite_close>;
using StmtPtr = CHandle<sqlite3_stmt, stmt_finalize>;
using EvpPkeyPtr = CHandle<EVP_PKEY, EVP_PKEY_free>;
using EvpMdCtxPtr = CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;
using BioPtr = CHandle<BIO, BIO_free_all>;
using EcdsaSigPtr = CHandle<ECDSA_SIG, ECDSA_SIG_free>;

using EventBasePtr = CHandle<event_base, event_base_free>;
using EventPtr = CHandle<event, event_free>;
using BufferEventPtr = CHandle<bufferevent, bufferevent_free>;
using ListenerPtr = CHandle<evconnlistener, evconnlistener_free>;

using MhdDaemonPtr = CHandle<MHD_Daemon, MHD_stop_daemon>;
using MhdResponsePtr = CHandle<MHD_Response, MHD_destroy_response>;
using CurlPtr = CHandle<CURL, curl_easy_cleanup>;
using CurlSlistPtr = CHandle<curl_slist, curl_slist_free_all>;
using X509Ptr = CHandle<X509, X509_free>;

using PgConnPtr = CHandle<PGconn, PQfinish>;
using PgResultPtr = CHandle<PGresult, PQclear>;

}  // namespace vytal
