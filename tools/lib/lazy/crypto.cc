// libcrypto at its first use (see lazy.h): the functions tools/lib calls.
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "lazy.h"

#define PM_STR2(x) #x
#define PM_STR(x) PM_STR2(x)

namespace {

void *crypto()
{
	// The soname of the headers the library code was compiled against.
	static void *h = pm::lazy::open("libcrypto.so." PM_STR(OPENSSL_SHLIB_VERSION));
	return h;
}

} // namespace

extern "C" {

PM_LAZY_FORWARD(crypto, int, EVP_Digest,
                (const void *data, size_t n, unsigned char *md, unsigned int *len, const EVP_MD *type, ENGINE *e),
                (data, n, md, len, type, e))
PM_LAZY_FORWARD(crypto, int, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD *type, ENGINE *e), (ctx, type, e))
PM_LAZY_FORWARD(crypto, int, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void *d, size_t n), (ctx, d, n))
PM_LAZY_FORWARD(crypto, int, EVP_DigestFinal_ex, (EVP_MD_CTX * ctx, unsigned char *md, unsigned int *n), (ctx, md, n))
PM_LAZY_FORWARD(crypto, int, EVP_EncodeBlock, (unsigned char *t, const unsigned char *f, int n), (t, f, n))
PM_LAZY_FORWARD(crypto, EVP_MD_CTX *, EVP_MD_CTX_new, (void), ())
PM_LAZY_FORWARD(crypto, void, EVP_MD_CTX_free, (EVP_MD_CTX * ctx), (ctx))
PM_LAZY_FORWARD(crypto, const EVP_MD *, EVP_get_digestbyname, (const char *name), (name))
PM_LAZY_FORWARD(crypto, const EVP_MD *, EVP_md5, (void), ())

} // extern "C"
