/* The kernel's word on who is at the other end of a Unix socket: getsockopt(SO_PEERCRED).
 * Exposes one function, peerCredentials(fd) -> {pid, uid, gid}; it throws when the kernel says no. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, int err) {
  char msg[128];
  snprintf(msg, sizeof msg, "getsockopt(SO_PEERCRED) failed: %s", strerror(err));
  napi_throw_error(env, "EPEERCRED", msg);
  return NULL;
}

static napi_value set_number(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, key, n);
  return obj;
}

static napi_value PeerCredentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "peerCredentials(fd) needs a non-negative integer fd");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  memset(&cred, 0, sizeof cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, errno);
  if (len != sizeof cred) return throw_errno(env, EPROTO);
  napi_value obj;
  napi_create_object(env, &obj);
  set_number(env, obj, "pid", (double)cred.pid);
  set_number(env, obj, "uid", (double)cred.uid);
  set_number(env, obj, "gid", (double)cred.gid);
  return obj;
}

/* tryLockExclusive(fd) -> true when flock(fd, LOCK_EX|LOCK_NB) took the lock, false when another open file
 * description holds it; throws on any other error. The kernel drops the lock when the process dies (also kill -9). */
static napi_value TryLockExclusive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "tryLockExclusive(fd) needs a non-negative integer fd");
    return NULL;
  }
  int r;
  do r = flock(fd, LOCK_EX | LOCK_NB); while (r != 0 && errno == EINTR);
  napi_value out;
  if (r == 0) {
    napi_get_boolean(env, true, &out);
    return out;
  }
  if (errno == EWOULDBLOCK) {
    napi_get_boolean(env, false, &out);
    return out;
  }
  char msg[128];
  snprintf(msg, sizeof msg, "flock failed: %s", strerror(errno));
  napi_throw_error(env, "EFLOCK", msg);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "tryLockExclusive", NAPI_AUTO_LENGTH, TryLockExclusive, NULL, &fn);
  napi_set_named_property(env, exports, "tryLockExclusive", fn);
  napi_create_function(env, "peerCredentials", NAPI_AUTO_LENGTH, PeerCredentials, NULL, &fn);
  napi_set_named_property(env, exports, "peerCredentials", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
