// libcurl at its first use (see lazy.h): the functions tools/lib calls. In
// mirror-state a mirror in a bucket needs HTTP; one on disk never does.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
// (curl.h's type-checking macros are for C callers, not for definitions.)
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "lazy.h"

namespace {

void *curl_lib()
{
	// The soname the other tools are linked against (libcurl 7.16 on).
	static void *h = pm::lazy::open("libcurl.so.4");
	return h;
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

#define PM_FORWARD(ret, name, params, args) PM_LAZY_FORWARD(curl_lib, ret, name, params, args)

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
		static auto f = pm::lazy::resolve<decltype(&name)>(curl_lib(), #name);                                                               \
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
	static auto f = pm::lazy::resolve<decltype(&curl_easy_getinfo)>(curl_lib(), "curl_easy_getinfo");
	va_list ap;
	va_start(ap, info);
	CURLcode rc = f(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

} // extern "C"
