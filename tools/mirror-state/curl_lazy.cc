// libcurl, loaded at its first use rather than at every start of
// mirror-state.
//
// pypi-mirror(1) runs mirror-state three times in every run, cron's idle
// ones included, where it reads and writes a few small state files. Only a
// mirror in a bucket needs HTTP from it, yet linked with -lcurl the dynamic
// loader maps libcurl and the ~30 libraries it brings (LDAP, Kerberos, SSH,
// HTTP/2, IDN, ...) at every start: a few milliseconds each time, most of
// what an idle run costs more than it did before the object store. The
// library code calls libcurl as usual; in this program those calls land
// here, and the first one opens libcurl.so.4 (the soname the build linked
// the other tools against) and looks each function up once. Being linked
// before -lcurl, these definitions leave libcurl unneeded, and
// -Wl,--as-needed drops it (tests/state.bats checks that it stays so: a
// curl function used by the library and missing here would bring it back).
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
// (curl.h's type-checking macros are for C callers, not for definitions.)
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>

namespace {

void *curl_lib()
{
	static void *h = [] {
		void *p = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
		if (!p) {
			fprintf(stderr, "mirror-state: cannot load libcurl: %s\n", dlerror());
			exit(3); // mirror-state's "cannot read or write the state"
		}
		return p;
	}();
	return h;
}

template <typename F> F resolve(const char *name)
{
	void *f = dlsym(curl_lib(), name);
	if (!f) {
		fprintf(stderr, "mirror-state: libcurl has no %s: %s\n", name, dlerror());
		exit(3);
	}
	return reinterpret_cast<F>(f);
}

// The variadic three pass on their one argument with the type the option
// number says it has, the way libcurl itself reads it: options are
// numbered from a base per type (long, object pointer, function pointer,
// curl_off_t, blob pointer); every getinfo argument is a pointer.
template <typename R, typename H, typename O> R pass_option(R (*f)(H, O, ...), H h, O opt, va_list ap)
{
	if (opt < CURLOPTTYPE_OBJECTPOINT) return f(h, opt, va_arg(ap, long));
	if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB) return f(h, opt, va_arg(ap, curl_off_t));
	return f(h, opt, va_arg(ap, void *));
}

} // namespace

// One forwarder per function: its type is taken from curl's own header, so
// a signature that changes there fails to compile here.
#define PM_FORWARD(ret, name, params, args)                                                                            \
	ret name params                                                                                                    \
	{                                                                                                                  \
		static auto f = resolve<decltype(&name)>(#name);                                                               \
		return f args;                                                                                                 \
	}

extern "C" {

PM_FORWARD(CURLcode, curl_global_init, (long flags), (flags))
PM_FORWARD(void, curl_global_cleanup, (void), ())
PM_FORWARD(CURL *, curl_easy_init, (void), ())
PM_FORWARD(void, curl_easy_cleanup, (CURL * h), (h))
PM_FORWARD(void, curl_easy_reset, (CURL * h), (h))
PM_FORWARD(CURLcode, curl_easy_pause, (CURL * h, int bitmask), (h, bitmask))
PM_FORWARD(const char *, curl_easy_strerror, (CURLcode c), (c))
PM_FORWARD(void, curl_free, (void *p), (p))
PM_FORWARD(time_t, curl_getdate, (const char *p, const time_t *unused), (p, unused))
PM_FORWARD(char *, curl_version, (void), ())
PM_FORWARD(CURLM *, curl_multi_init, (void), ())
PM_FORWARD(CURLMcode, curl_multi_cleanup, (CURLM * m), (m))
PM_FORWARD(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL *h), (m, h))
PM_FORWARD(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL *h), (m, h))
PM_FORWARD(CURLMcode, curl_multi_socket_action, (CURLM * m, curl_socket_t s, int bits, int *running),
           (m, s, bits, running))
PM_FORWARD(CURLMsg *, curl_multi_info_read, (CURLM * m, int *left), (m, left))
PM_FORWARD(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s))
PM_FORWARD(void, curl_slist_free_all, (struct curl_slist * l), (l))
PM_FORWARD(CURLU *, curl_url, (void), ())
PM_FORWARD(void, curl_url_cleanup, (CURLU * u), (u))
PM_FORWARD(CURLUcode, curl_url_get, (CURLU * u, CURLUPart what, char **part, unsigned flags), (u, what, part, flags))
PM_FORWARD(CURLUcode, curl_url_set, (CURLU * u, CURLUPart what, const char *part, unsigned flags),
           (u, what, part, flags))
PM_FORWARD(const char *, curl_url_strerror, (CURLUcode c), (c))

// setopt's two: the option's argument, typed by pass_option.
#define PM_FORWARD_OPTION(ret, name, handle, option)                                                                   \
	ret name(handle h, option opt, ...)                                                                                \
	{                                                                                                                  \
		static auto f = resolve<decltype(&name)>(#name);                                                               \
		va_list ap;                                                                                                    \
		va_start(ap, opt);                                                                                             \
		ret rc = pass_option(f, h, opt, ap);                                                                           \
		va_end(ap);                                                                                                    \
		return rc;                                                                                                     \
	}
PM_FORWARD_OPTION(CURLcode, curl_easy_setopt, CURL *, CURLoption)
PM_FORWARD_OPTION(CURLMcode, curl_multi_setopt, CURLM *, CURLMoption)

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	static auto f = resolve<decltype(&curl_easy_getinfo)>("curl_easy_getinfo");
	va_list ap;
	va_start(ap, info);
	CURLcode rc = f(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

} // extern "C"
