// Shared libraries loaded at their first use rather than at every start.
//
// pypi-mirror(1) starts mirror-state four times and mirror-config once in
// every run, cron's idle ones included. For a mirror on disk they read and
// write a few small files; only a mirror in a bucket needs HTTP (libcurl),
// hashing (libcrypto: payload hashes, Content-MD5) and XML (libexpat:
// listings) from them. Linked with -lcurl -lcrypto -lexpat, the dynamic
// loader maps and relocates those libraries at every start all the same:
// libcurl with its ~30 dependencies cost over 10 ms a start on a loaded
// machine, libcrypto alone ~2 ms (4.7 MB to map, thousands of relocations
// and the page faults they take), most of what an idle run cost more than
// it did before the object store.
//
// The library code calls these functions as usual. In a program linked
// with one of the files of this directory (the Makefile says which), the
// calls land in a forwarder defined there instead; the first one opens the
// library and each forwarder looks its function up once. Being linked
// before the archive and the -l options, the forwarders leave the library
// unneeded, and -Wl,--as-needed drops it. tests/state.bats checks with
// readelf that it stays so: a function the program uses and no forwarder
// defines brings the library back.
#pragma once

#include <cerrno> // program_invocation_short_name
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>

namespace pm::lazy {

// Where a library cannot be loaded or lacks a function, the program stops
// with status 3. Only mirror-state calls into these libraries at run time
// (for a mirror in a bucket), where 3 is "the state cannot be read or
// written"; mirror-config links libcrypto's and libexpat's users with the
// [s3] configuration code but never calls them.
[[noreturn]] inline void load_failed(const char *what, const char *why)
{
	fprintf(stderr, "%s: cannot load %s: %s\n", program_invocation_short_name, what, why ? why : "unknown error");
	exit(3);
}

inline void *open(const char *soname)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) load_failed(soname, dlerror());
	return h;
}

template <typename F> F resolve(void *lib, const char *name)
{
	void *f = dlsym(lib, name);
	if (!f) load_failed(name, dlerror());
	return reinterpret_cast<F>(f);
}

} // namespace pm::lazy

// One forwarder: its type is taken from the library's own header, so a
// signature that changes there fails to compile here. LIB is a function
// returning the library's handle (opened once, by its first caller).
#define PM_LAZY_FORWARD(LIB, ret, name, params, args)                                                                  \
	ret name params                                                                                                    \
	{                                                                                                                  \
		static auto fn = pm::lazy::resolve<decltype(&name)>(LIB(), #name);                                             \
		return fn args;                                                                                                \
	}
