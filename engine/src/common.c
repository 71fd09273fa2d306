/*
 * common.c - version, error strings, names of constants.
 */
#include <string.h>

#include "ddx.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *ddx_version_string(void)
{
    return STR(DDX_VERSION_MAJOR) "." STR(DDX_VERSION_MINOR) "." STR(DDX_VERSION_PATCH);
}

unsigned ddx_version_number(void)
{
    return DDX_VERSION_NUMBER;
}

const char *ddx_strerror(int err)
{
    switch (err) {
    case DDX_OK:
        return "success";
    case DDX_EINVAL:
        return "invalid argument or parameter";
    case DDX_ESTATE:
        return "call not allowed in the current state";
    case DDX_ENOMEM:
        return "out of memory";
    case DDX_ETHREAD:
        return "could not start a worker thread";
    case DDX_EHASH:
        return "fingerprint provider (OpenSSL) failed";
    case DDX_EUNSUPP:
        return "implementation not available on this machine or build";
    case DDX_ECORRUPT:
        return "data failed an integrity check";
    case DDX_EFULL:
        return "structure full";
    case DDX_EDEVICE:
        return "GPU runtime (CUDA or OpenCL) failed";
    case DDX_ELOCKED:
        return "store is locked by another writer";
    case DDX_EFORMAT:
        return "store format is newer than this ddx, or unknown";
    case DDX_ENOENT:
        return "no such store, name or version";
    default:
        break;
    }
    if (err > 0)
        return strerror(err);
    return "unknown ddx error";
}

static const char *const chunker_names[] = {"fixed", "rabin", "tttd", "fastcdc", "ram"};
static const char *const hash_names[] = {"sha1", "sha256"};
static const char *const backend_names[] = {"cpu", "auto", "cuda", "opencl"};
static const char *const stage_names[] = {"read", "chunk", "stitch", "hash", "index"};

const char *ddx_chunker_name(ddx_chunker_kind kind)
{
    return (unsigned)kind < 5 ? chunker_names[kind] : "?";
}

const char *ddx_hash_name(ddx_hash_kind kind)
{
    return (unsigned)kind < 2 ? hash_names[kind] : "?";
}

const char *ddx_stage_name(ddx_stage stage)
{
    return (unsigned)stage < DDX_STAGE_COUNT ? stage_names[stage] : "?";
}

int ddx_chunker_from_name(const char *name, ddx_chunker_kind *out)
{
    for (int i = 0; i < 5; i++)
        if (name && strcmp(name, chunker_names[i]) == 0) {
            *out = (ddx_chunker_kind)i;
            return 0;
        }
    return DDX_EINVAL;
}

int ddx_hash_from_name(const char *name, ddx_hash_kind *out)
{
    for (int i = 0; i < 2; i++)
        if (name && strcmp(name, hash_names[i]) == 0) {
            *out = (ddx_hash_kind)i;
            return 0;
        }
    return DDX_EINVAL;
}

size_t ddx_hash_size(ddx_hash_kind kind)
{
    return kind == DDX_HASH_SHA1 ? 20 : kind == DDX_HASH_SHA256 ? 32 : 0;
}

const char *ddx_backend_name(ddx_backend_kind kind)
{
    return (unsigned)kind < 4 ? backend_names[kind] : "?";
}

int ddx_backend_from_name(const char *name, ddx_backend_kind *out)
{
    for (unsigned i = 0; name && out && i < 4; i++)
        if (!strcmp(name, backend_names[i])) {
            *out = (ddx_backend_kind)i;
            return 0;
        }
    return DDX_EINVAL;
}
