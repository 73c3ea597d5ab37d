// Target environments: marker values and accepted wheel tags (target_env.h).
#include "target_env.h"

#include "filter_config.h" // parse_wheel_tags: the one wheel filename reader

namespace pm {

namespace {

// Newest platform levels offered. glibc 2.39 (Ubuntu 24.04) and macOS 15
// are the newest a wheel on PyPI targets today; an older host would accept
// fewer, so a mirror built for these may hold a wheel an old host skips for
// an older one of the same release - which it also holds.
constexpr int kGlibcMax = 39;
constexpr int kMuslMax = 2;
constexpr int kMacosMax = 15;

std::vector<std::string> platform_tags(const std::string &os, const std::string &m)
{
	std::vector<std::string> out;
	if (os == "manylinux") {
		// PEP 600: manylinux_2_Y for every glibc up to ours; the legacy names
		// are aliases of 2_5 (manylinux1), 2_12 (2010) and 2_17 (2014).
		bool legacy_x86 = m == "x86_64" || m == "i686";
		int lowest = legacy_x86 ? 5 : 17;
		for (int y = kGlibcMax; y >= lowest; y--) {
			out.push_back("manylinux_2_" + std::to_string(y) + "_" + m);
			if (y == 17) out.push_back("manylinux2014_" + m);
			if (y == 12 && legacy_x86) out.push_back("manylinux2010_" + m);
			if (y == 5) out.push_back("manylinux1_" + m);
		}
		out.push_back("linux_" + m);
	} else if (os == "musllinux") {
		for (int y = kMuslMax; y >= 0; y--) out.push_back("musllinux_1_" + std::to_string(y) + "_" + m);
		out.push_back("linux_" + m);
	} else if (os == "win") {
		out.push_back(m == "amd64" ? "win_amd64" : m == "arm64" ? "win_arm64" : "win32");
	} else if (os == "macos") {
		std::vector<std::string> formats;
		if (m == "arm64")
			formats = {"arm64", "universal2"};
		else
			formats = {"x86_64", "intel", "fat64", "fat32", "universal2", "universal"};
		for (int x = kMacosMax; x >= 11; x--)
			for (auto &f : formats) out.push_back("macosx_" + std::to_string(x) + "_0_" + f);
		// macOS 11+ still accepts 10.x wheels: Intel ones natively, and
		// universal2 ones on Apple silicon.
		for (int y = 16; y >= 4; y--) {
			if (m == "arm64")
				out.push_back("macosx_10_" + std::to_string(y) + "_universal2");
			else
				for (auto &f : formats) out.push_back("macosx_10_" + std::to_string(y) + "_" + f);
		}
	}
	return out;
}

} // namespace

bool parse_target_env(const std::string &text, TargetEnv &env, std::string &error)
{
	env = TargetEnv();
	auto d1 = text.find('-');
	auto d2 = d1 == std::string::npos ? d1 : text.find('-', d1 + 1);
	if (d2 == std::string::npos || text.find('-', d2 + 1) != std::string::npos) {
		error = "target environment '" + text + "' is not IMPLVERSION-PLATFORM-MACHINE (e.g. cp311-manylinux-x86_64)";
		return false;
	}
	std::string py = text.substr(0, d1), os = text.substr(d1 + 1, d2 - d1 - 1), m = text.substr(d2 + 1);
	if (py.size() < 4 || (py.compare(0, 2, "cp") != 0 && py.compare(0, 2, "pp") != 0)) {
		error = "target environment '" + text + "': the interpreter is cpXY or ppXY (e.g. cp311, cp3.11.7)";
		return false;
	}
	env.impl = py.substr(0, 2);
	std::string ver = py.substr(2);
	auto digits = [](const std::string &s) {
		return !s.empty() && s.size() <= 3 && s.find_first_not_of("0123456789") == std::string::npos;
	};
	if (ver.find('.') != std::string::npos) {
		auto a = ver.find('.'), b = ver.find('.', a + 1);
		std::string ma = ver.substr(0, a), mi = ver.substr(a + 1, b == std::string::npos ? b : b - a - 1),
		            pa = b == std::string::npos ? "0" : ver.substr(b + 1);
		if (!digits(ma) || !digits(mi) || !digits(pa)) {
			error = "target environment '" + text + "': bad Python version '" + ver + "'";
			return false;
		}
		env.major = std::stoi(ma), env.minor = std::stoi(mi), env.patch = std::stoi(pa);
	} else {
		if (!digits(ver) || ver.size() < 2) {
			error = "target environment '" + text + "': bad Python version '" + ver + "'";
			return false;
		}
		env.major = ver[0] - '0';
		env.minor = std::stoi(ver.substr(1));
	}
	if (env.major != 3) {
		error = "target environment '" + text + "': only Python 3 is supported";
		return false;
	}
	static const std::vector<std::pair<std::string, std::vector<std::string>>> machines = {
	    {"manylinux", {"x86_64", "aarch64", "i686", "ppc64le", "s390x", "armv7l"}},
	    {"musllinux", {"x86_64", "aarch64", "i686", "ppc64le", "s390x", "armv7l"}},
	    {"win", {"amd64", "win32", "arm64"}},
	    {"macos", {"arm64", "x86_64"}},
	};
	bool os_ok = false, m_ok = false;
	for (auto &[o, ms] : machines) {
		if (o != os) continue;
		os_ok = true;
		for (auto &x : ms) m_ok = m_ok || x == m;
	}
	if (!os_ok) {
		error = "target environment '" + text + "': the platform is manylinux, musllinux, win or macos, not '" + os + "'";
		return false;
	}
	if (!m_ok) {
		error = "target environment '" + text + "': unknown machine '" + m + "' for " + os;
		return false;
	}
	env.os = os;
	env.machine = m;
	const std::string xy = std::to_string(env.major) + std::to_string(env.minor);
	env.spec = env.impl + (ver.find('.') != std::string::npos ? ver : xy) + "-" + os + "-" + m;

	// Marker values, as that interpreter's `packaging.markers.default_environment()` reports them.
	auto &mk = env.markers;
	const std::string full = std::to_string(env.major) + "." + std::to_string(env.minor) + "." + std::to_string(env.patch);
	mk["python_version"] = std::to_string(env.major) + "." + std::to_string(env.minor);
	mk["python_full_version"] = full;
	mk["implementation_name"] = env.impl == "cp" ? "cpython" : "pypy";
	mk["implementation_version"] = full;
	mk["platform_python_implementation"] = env.impl == "cp" ? "CPython" : "PyPy";
	mk["platform_release"] = "";
	mk["platform_version"] = "";
	if (os == "manylinux" || os == "musllinux") {
		mk["sys_platform"] = "linux";
		mk["platform_system"] = "Linux";
		mk["os_name"] = "posix";
		mk["platform_machine"] = m;
	} else if (os == "win") {
		mk["sys_platform"] = "win32";
		mk["platform_system"] = "Windows";
		mk["os_name"] = "nt";
		mk["platform_machine"] = m == "amd64" ? "AMD64" : m == "arm64" ? "ARM64" : "x86";
	} else {
		mk["sys_platform"] = "darwin";
		mk["platform_system"] = "Darwin";
		mk["os_name"] = "posix";
		mk["platform_machine"] = m;
	}

	// Tags, in sys_tags() order: the interpreter's own ABI, then abi3 for
	// this and older CPythons, then "none"; then the generic py3 ones.
	const auto plats = platform_tags(os, m);
	const std::string interp = env.impl + xy;
	auto add = [&](const std::string &t) {
		if (env.tag_set.insert(t).second) env.tags.push_back(t);
	};
	if (env.impl == "cp") {
		for (auto &p : plats) add(interp + "-" + interp + "-" + p);
		for (auto &p : plats) add(interp + "-abi3-" + p);
		for (auto &p : plats) add(interp + "-none-" + p);
		for (int y = env.minor - 1; y >= 2; y--)
			for (auto &p : plats) add("cp3" + std::to_string(y) + "-abi3-" + p);
	} else {
		for (auto &p : plats) add(interp + "-pypy" + xy + "_pp73-" + p);
		for (auto &p : plats) add(interp + "-none-" + p);
	}
	std::vector<std::string> pys = {"py" + xy, "py3"};
	for (int y = env.minor - 1; y >= 0; y--) pys.push_back("py3" + std::to_string(y));
	for (auto &p : plats)
		for (auto &py3 : pys) add(py3 + "-none-" + p);
	add(interp + "-none-any");
	for (auto &py3 : pys) add(py3 + "-none-any");
	return true;
}

bool TargetEnv::accepts_wheel(const std::string &filename) const
{
	WheelTags t;
	if (!parse_wheel_tags(filename, t)) return false;
	for (auto &py : t.python)
		for (auto &abi : t.abi)
			for (auto &plat : t.platform)
				if (tag_set.count(py + "-" + abi + "-" + plat)) return true;
	return false;
}

bool TargetEnv::accepts_python(const std::string &requires_python) const
{
	if (requires_python.empty()) return true;
	auto set = pep440::parse_specifiers(requires_python);
	if (!set) return true;
	auto v = pep440::parse(std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch));
	return set->contains(*v, true);
}

} // namespace pm
