// mirror-config: reads a pypi-mirror (bandersnatch-compatible) INI file and
// prints shell assignments for scripts/pypi-mirror to eval. Parsing and
// validation live here, in one small program, so that the wrapper stays a
// thin shell script and so that an operator can check a configuration by hand.
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include "access_log.h"
#include "cli.h"
#include "ini_file.h"
#include "layout.h"
#include "log.h"
#include "names.h"
#include "options.h"
#include "s3.h"
#include "target_env.h"
#include "text.h"

using pm::lower;
using pm::trim_copy;

namespace {

const char *kProg = "mirror-config";

struct Value {
	std::string key;  // as spelled in the file (for messages)
	std::string text; // continuation lines joined with '\n'
	int count = 0;    // >1: a repeated key or a continued (multi-line) value
	bool used = false;
	bool reported = false; // an error about it was already given
};

// section -> normalized key -> value
using Section = std::map<std::string, Value>;

struct Config {
	std::string file;
	std::map<std::string, Section> sections;
	std::vector<std::string> section_order;
	bool orphan = false; // a key before any [section]
	std::string orphan_key;
};

// configparser lower-cases option names, and bandersnatch treats "-" and "_"
// as the same character, so "root_uri" and "Root-URI" are one key.
std::string norm_key(const char *k)
{
	std::string s;
	for (const char *p = k; *p; p++) {
		char c = *p;
		if (c == '_') c = '-';
		if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
		s += c;
	}
	return s;
}

void on_value(Config &cfg, const char *section, const char *name, const char *value)
{
	if (!*section) {
		if (!cfg.orphan) cfg.orphan_key = name;
		cfg.orphan = true;
		return;
	}
	if (!cfg.sections.count(section)) cfg.section_order.push_back(section);
	Value &v = cfg.sections[section][norm_key(name)];
	// inih calls us once per line of a multi-line value with the same name;
	// a key given twice looks the same. Both are joined here and refused
	// later for keys that take one value (configparser refuses duplicates).
	if (v.count++) v.text += '\n';
	else v.key = name;
	v.text += value;
}

int g_errors = 0;

void fail(const Config &c, const char *section, const Value *v, const std::string &key, const std::string &why)
{
	LOG_ERROR("%s: [%s] %s: %s", c.file.c_str(), section, v ? v->key.c_str() : key.c_str(), why.c_str());
	g_errors++;
}

// A non-negative finite number of seconds, as bandersnatch reads one (a float).
bool seconds_text(const std::string &t, double &d)
{
	char *end = nullptr;
	errno = 0;
	d = strtod(t.c_str(), &end);
	return !t.empty() && !errno && !*end && std::isfinite(d) && d >= 0;
}

class Reader {
public:
	Reader(Config &c, const char *section) : c_(c), name_(section), sec_(&c.sections[section]) {}

	Value *find(const char *key)
	{
		auto it = sec_->find(key);
		if (it == sec_->end()) return nullptr;
		it->second.used = true;
		return &it->second;
	}
	bool present(const char *key) { return find(key) != nullptr; }

	// A single-valued string; dflt when absent or empty.
	std::string str(const char *key, const std::string &dflt = "")
	{
		std::string t;
		if (!one(key, t)) return dflt;
		return t.empty() ? dflt : t;
	}

	// configparser's getboolean() words.
	bool boolean(const char *key, bool dflt)
	{
		Value *v = find(key);
		std::string t;
		if (!one(key, t)) return dflt;
		t = lower(t);
		if (t == "1" || t == "yes" || t == "true" || t == "on") return true;
		if (t == "0" || t == "no" || t == "false" || t == "off") return false;
		fail(c_, name_, v, key, "not a boolean: '" + trim_copy(v->text) + "' (use true/false, yes/no, on/off, 1/0)");
		return dflt;
	}

	long long integer(const char *key, long long dflt, long long min, long long max)
	{
		Value *v = find(key);
		std::string t;
		if (!one(key, t)) return dflt;
		if (t.empty()) {
			fail(c_, name_, v, key, "needs a value");
			return dflt;
		}
		char *end = nullptr;
		errno = 0;
		long long n = strtoll(t.c_str(), &end, 10);
		if (errno || *end || t[0] == '-' || t[0] == ' ') {
			fail(c_, name_, v, key, "not an integer: '" + t + "'");
			return dflt;
		}
		if (n < min || n > max) {
			fail(c_, name_, v, key,
			     "out of range: " + t + " (allowed " + std::to_string(min) + ".." + std::to_string(max) + ")");
			return dflt;
		}
		return n;
	}

	// Seconds; bandersnatch reads timeouts as floats, our tools take whole
	// seconds, so a fraction is rounded up (never down to 0).
	long long seconds(const char *key, long long dflt, long long min)
	{
		Value *v = find(key);
		std::string t;
		double d;
		if (!one(key, t)) return dflt;
		if (!seconds_text(t, d)) {
			fail(c_, name_, v, key, "not a number of seconds: '" + t + "'");
			return dflt;
		}
		long long n = static_cast<long long>(std::ceil(d));
		if (n < min || d > 1e9) {
			fail(c_, name_, v, key, "out of range: " + t);
			return dflt;
		}
		return n;
	}

	// A duration (45s, 90m, 12h, 30d, 2w or seconds) in seconds.
	long long duration(const char *key, long long dflt, long long min)
	{
		Value *v = find(key);
		std::string t;
		if (!one(key, t)) return dflt;
		long long d = pm::parse_duration(t);
		if (d < 0) {
			fail(c_, name_, v, key, "not a duration: '" + t + "' (want 45s, 90m, 12h, 30d, 2w or seconds)");
			return dflt;
		}
		if (d < min) {
			fail(c_, name_, v, key, "out of range: " + t + " (at least " + pm::format_duration(min) + ")");
			return dflt;
		}
		return d;
	}

	// Every line of a key's value (a multi-line value), trimmed, empty ones dropped.
	std::vector<std::string> lines(const char *key)
	{
		std::vector<std::string> out;
		Value *v = find(key);
		if (!v) return out;
		size_t pos = 0;
		while (pos <= v->text.size()) {
			size_t nl = v->text.find('\n', pos);
			if (nl == std::string::npos) nl = v->text.size();
			std::string l = trim_copy(v->text.substr(pos, nl - pos));
			if (!l.empty()) out.push_back(l);
			pos = nl + 1;
		}
		return out;
	}

	// A non-negative decimal kept as text (the wrapper hands it to sleep(1)).
	std::string decimal(const char *key, const std::string &dflt)
	{
		Value *v = find(key);
		std::string t;
		double d;
		if (!one(key, t)) return dflt;
		if (!seconds_text(t, d) || d > 86400 || t.find_first_not_of("0123456789.") != std::string::npos) {
			fail(c_, name_, v, key, "not a number of seconds: '" + t + "'");
			return dflt;
		}
		return t;
	}

	std::string choice(const char *key, const std::string &dflt, std::initializer_list<const char *> allowed)
	{
		Value *v = find(key);
		std::string t;
		if (!one(key, t)) return dflt;
		t = lower(t);
		if (t.empty()) return dflt;
		std::string list;
		for (const char *a : allowed) {
			if (t == a) return t;
			list += list.empty() ? "" : ", ";
			list += a;
		}
		fail(c_, name_, v, key, "'" + trim_copy(v->text) + "' is not one of: " + list);
		return dflt;
	}

	// Sets the error for an absolute http(s) URL; returns it without a trailing "/".
	std::string url(const char *key, const std::string &dflt, bool allow_http)
	{
		Value *v = find(key);
		std::string t = str(key, dflt);
		if (t.empty()) return t;
		std::string l = lower(t);
		bool https = l.rfind("https://", 0) == 0, http = l.rfind("http://", 0) == 0;
		size_t host = t.find("://");
		std::string authority = host == std::string::npos ? "" : t.substr(host + 3, t.find('/', host + 3) - host - 3);
		size_t colon = authority.rfind(':');
		bool bad_port = colon != std::string::npos && authority.find(']', colon) == std::string::npos &&
		                (colon + 1 == authority.size() ||
		                 authority.find_first_not_of("0123456789", colon + 1) != std::string::npos);
		if (authority.find('@') != std::string::npos) {
			// Not echoed: the part before "@" is a secret.
			fail(c_, name_, v, key,
			     "carries credentials (user@host); put them in username and password (or token, or netrc) "
			     "instead, which stay out of logs and records");
			return dflt;
		}
		if ((!https && !http) || authority.empty() || authority[0] == ':' || bad_port ||
		    t.find_first_of(" \t\n\"'<>\\") != std::string::npos) {
			fail(c_, name_, v, key, "not an http(s) URL: '" + t + "'");
			return dflt;
		}
		if (http && !allow_http) {
			fail(c_, name_, v, key,
			     "'" + t + "' is plain http; set allow-non-https = true in [mirror] to allow it");
			return dflt;
		}
		while (t.size() > 1 && t.back() == '/')
			t.pop_back();
		return t;
	}

	const char *name() const { return name_; }
	Section &section() { return *sec_; }

private:
	// The trimmed value of a key that takes one value; false (reported once)
	// when it is absent or given on several lines.
	bool one(const char *key, std::string &t)
	{
		Value *v = find(key);
		if (!v) return false;
		t = trim_copy(v->text);
		if (t.find('\n') == std::string::npos) return true;
		if (!v->reported)
			fail(c_, name_, v, key, "takes one value (the key is repeated or continued on another line)");
		v->reported = true;
		return false;
	}

	Config &c_;
	const char *name_;
	Section *sec_;
};

// Relative paths are taken from the current directory, as bandersnatch does;
// made absolute here so that the diff file and the logs name real paths.
std::string absolute(const std::string &p)
{
	if (p.empty() || p[0] == '/') return p;
	char buf[PATH_MAX];
	if (!getcwd(buf, sizeof buf)) return p;
	std::string cwd = buf;
	std::string rel = p;
	while (rel.rfind("./", 0) == 0)
		rel.erase(0, 2);
	return cwd == "/" ? "/" + rel : cwd + "/" + rel;
}

// bandersnatch lets diff-file name other options: "{{ mirror_directory }}"
// is the value of "directory" in [mirror] (section, "_", option).
bool expand_refs(Config &c, std::string &s, std::string &why)
{
	std::string out;
	size_t pos = 0;
	while (true) {
		size_t b = s.find("{{", pos);
		if (b == std::string::npos) break;
		size_t e = s.find("}}", b);
		if (e == std::string::npos) break;
		std::string ref = trim_copy(s.substr(b + 2, e - b - 2));
		size_t us = ref.find('_');
		if (us == std::string::npos || us == 0 || us + 1 == ref.size()) {
			why = "cannot parse the reference {{ " + ref + " }} (want {{ section_option }})";
			return false;
		}
		std::string sec = ref.substr(0, us), opt = norm_key(ref.substr(us + 1).c_str());
		auto si = c.sections.find(sec);
		if (si == c.sections.end() || !si->second.count(opt)) {
			why = "the reference {{ " + ref + " }} names no option '" + ref.substr(us + 1) + "' in [" + sec + "]";
			return false;
		}
		out += s.substr(pos, b - pos) + trim_copy(si->second[opt].text);
		pos = e + 2;
	}
	s = out + s.substr(pos);
	return true;
}

// Sections read by pkg-filter(1) (bandersnatch's filter plugins) or by
// bandersnatch storage backends we refuse anyway: not ours to judge.
bool foreign_section(const std::string &s)
{
	static const char *names[] = {"plugins", "min_age", "allowlist", "blocklist", "whitelist", "blacklist", "s3", "swift"};
	for (const char *n : names)
		if (s == n) return true;
	auto ends = [&](const char *suf) {
		size_t n = strlen(suf);
		return s.size() > n && s.compare(s.size() - n, n, suf) == 0;
	};
	return s.rfind("filter_", 0) == 0 || ends("_metadata") || ends("_release") || ends("_project") ||
	       ends("_release_file");
}

std::string shell_quote(const std::string &s)
{
	std::string q = "'";
	for (char c : s) {
		if (c == '\'') q += "'\\''";
		else q += c;
	}
	return q + "'";
}

// The items of a list value: one a line, or separated by white space or commas.
std::vector<std::string> items(const std::vector<std::string> &lines)
{
	std::vector<std::string> out;
	for (const auto &l : lines)
		for (size_t pos = 0, end; pos < l.size(); pos = end + 1) {
			end = std::min(l.find_first_of(" \t,", pos), l.size());
			if (end > pos) out.push_back(l.substr(pos, end - pos));
		}
	return out;
}

std::string join(const std::vector<std::string> &v, const char *sep)
{
	std::string s;
	for (auto &x : v) s += (s.empty() ? "" : sep) + x;
	return s;
}

// Shell-quoted words, for the wrapper to turn into an array with eval.
struct Words {
	std::string text;
	Words &add(const std::string &w)
	{
		text += (text.empty() ? "" : " ") + shell_quote(w);
		return *this;
	}
	Words &add(const Words &w)
	{
		if (!w.text.empty()) text += (text.empty() ? "" : " ") + w.text;
		return *this;
	}
};

// A setting as the wrapper reads it: text, a number, or a flag (1 or 0).
struct Setting {
	std::string text;
	Setting(const std::string &s) : text(s) {}
	Setting(long long n) : text(std::to_string(n)) {}
	Setting(bool b) : text(b ? "1" : "0") {}
	Setting(const char *) = delete; // would be taken for a flag
};

struct Out {
	std::vector<std::pair<std::string, std::string>> vars;
	// NAME=(WORDS): an array, its words quoted already.
	void array(const char *k, const Words &w) { vars.emplace_back(std::string(k) + "=(", w.text + ")"); }
	void set(const char *k, const Setting &v) { vars.emplace_back(k, v.text); }
	// NAME=VALUE for each, in this order.
	void set(std::initializer_list<std::pair<const char *, Setting>> settings)
	{
		for (const auto &[k, v] : settings) set(k, v);
	}
};

} // namespace

int main(int argc, char **argv)
{
	std::string file;
	if (const char *e = getenv("PYPI_MIRROR_CONFIG"); e && *e) file = e;
	if (file.empty()) file = "/etc/pypi-mirror.conf";
	pm::parse_options(kProg, kCommandLine, argc, argv, [&](int c) {
		if (c == 'c') file = optarg;
	});

	Config cfg;
	cfg.file = file;
	int rc = pm::read_ini(file, [&](const char *section, const char *name, const char *value) {
		on_value(cfg, section, name, value);
	});
	if (rc < 0) {
		LOG_ERROR("cannot read configuration file %s: %s", file.c_str(), strerror(errno));
		return pm::kExitUsage;
	}
	if (rc != 0) {
		LOG_ERROR("%s:%d: syntax error (want [section] headers and key = value lines)", file.c_str(), rc);
		return pm::kExitUsage;
	}
	if (cfg.orphan) {
		LOG_ERROR("%s: key '%s' comes before any [section] header", file.c_str(), cfg.orphan_key.c_str());
		return pm::kExitUsage;
	}
	if (!cfg.sections.count("mirror")) {
		LOG_ERROR("%s: no [mirror] section (it must set at least: directory)", file.c_str());
		return pm::kExitUsage;
	}

	Out out;
	out.set("PM_CONFIG", absolute(file));

	Reader m(cfg, "mirror");
	std::string directory = m.str("directory");
	if (directory.empty()) fail(cfg, "mirror", m.find("directory"), "directory", "is required (the mirror's root)");
	// storage-backend = s3 (bandersnatch's form): directory is /BUCKET/PREFIX
	// and the tools get s3://BUCKET/PREFIX; the [s3] section must give an
	// endpoint and the bucket a usable name (pm::s3_configure says why not).
	const std::string backend = lower(m.str("storage-backend", "filesystem"));
	const bool s3 = backend == "s3";
	if (s3) {
		pm::S3Config sc;
		std::vector<std::string> warnings;
		std::string why;
		if (!pm::s3_configure(file, true, sc, warnings, why)) fail(cfg, "mirror", m.find("storage-backend"), "", why);
		for (auto &w : warnings) LOG_WARN("%s: %s", file.c_str(), w.c_str());
		directory = sc.location();
	} else {
		directory = absolute(directory);
		while (directory.size() > 1 && directory.back() == '/')
			directory.pop_back();
	}
	bool allow_http = m.boolean("allow-non-https", false);
	std::string master = m.url("master", "https://pypi.org", allow_http);
	long long workers = m.integer("workers", 3, 1, 10);
	long long timeout = m.seconds("timeout", 10, 1);
	long long global_timeout = m.seconds("global-timeout", 1800, 1);
	bool json = m.boolean("json", false);
	bool release_files = m.boolean("release-files", true);
	std::string root_uri = m.url("root-uri", "", true);
	if (root_uri.empty() && !release_files) root_uri = "https://files.pythonhosted.org";
	std::string compare = m.choice("compare-method", "hash", {"hash", "stat"});
	bool stop_on_error = m.boolean("stop-on-error", false);
	std::string download_mirror = m.url("download-mirror", "", allow_http);
	bool dm_no_fallback = m.boolean("download-mirror-no-fallback", false);
	if (dm_no_fallback && download_mirror.empty())
		fail(cfg, "mirror", m.find("download-mirror-no-fallback"), "",
		     "is set but download-mirror is not: every download would fail");
	std::string simple_format = m.choice("simple-format", "all", {"all", "html", "json"});
	std::string diff_file = m.str("diff-file");
	if (!diff_file.empty()) {
		std::string why;
		if (!expand_refs(cfg, diff_file, why)) fail(cfg, "mirror", m.find("diff-file"), "", why);
		diff_file = absolute(diff_file);
	}
	bool diff_epoch = m.boolean("diff-append-epoch", false);
	bool core_metadata = m.boolean("core-metadata", true);

	// bandersnatch keys we accept without acting on them. Those that would
	// change what the mirror looks like are refused rather than ignored.
	if (m.boolean("hash-index", false))
		fail(cfg, "mirror", m.find("hash-index"), "",
		     "true is not supported: pip cannot use a hashed index without a URL rewrite; set it to false");
	if (std::string d = lower(m.str("digest-name", "sha256")); d != "sha256")
		fail(cfg, "mirror", m.find("digest-name"), "", "'" + d + "' is not supported: pages carry sha256 only");
	if (backend != "filesystem" && !s3)
		fail(cfg, "mirror", m.find("storage-backend"), "", "'" + backend + "' is not supported: filesystem or s3");
	std::string proxy = m.str("proxy");

	// A private upstream: TLS files, and credentials that reach the tools
	// through the environment (never argv, which ps shows everyone).
	std::string ca_bundle = m.str("ca-bundle"), client_cert = m.str("client-cert"), client_key = m.str("client-key");
	for (auto [key, path] : {std::pair<const char *, std::string *>{"ca-bundle", &ca_bundle},
	                         {"client-cert", &client_cert}, {"client-key", &client_key}}) {
		if (path->empty()) continue;
		*path = absolute(*path);
		if (access(path->c_str(), R_OK) != 0)
			fail(cfg, "mirror", m.find(key), key, "cannot read '" + *path + "': " + strerror(errno));
	}
	if (!client_key.empty() && client_cert.empty())
		fail(cfg, "mirror", m.find("client-key"), "client-key", "is set but client-cert is not");
	std::string username = m.str("username"), password = m.str("password"), token = m.str("token");
	std::string password_file = m.str("password-file"), token_file = m.str("token-file");
	if (!password_file.empty()) password_file = absolute(password_file);
	if (!token_file.empty()) token_file = absolute(token_file);
	if (!password.empty() && !password_file.empty())
		fail(cfg, "mirror", m.find("password-file"), "password-file", "and password are both set: keep one");
	if (!token.empty() && !token_file.empty())
		fail(cfg, "mirror", m.find("token-file"), "token-file", "and token are both set: keep one");
	if ((!password.empty() || !password_file.empty()) && username.empty())
		fail(cfg, "mirror", m.find(password.empty() ? "password-file" : "password"), "", "is set but username is not");
	if (!username.empty() && (!token.empty() || !token_file.empty()))
		fail(cfg, "mirror", m.find("username"), "username", "and a token are both set: an upstream takes one kind");
	for (auto [key, path] : {std::pair<const char *, std::string *>{"password-file", &password_file},
	                         {"token-file", &token_file}})
		if (!path->empty() && access(path->c_str(), R_OK) != 0)
			fail(cfg, "mirror", m.find(key), key, "cannot read '" + *path + "': " + strerror(errno));
	std::string netrc;
	if (m.present("netrc")) {
		std::string t = lower(m.str("netrc"));
		if (t == "1" || t == "yes" || t == "true" || t == "on") netrc = "1";
		else if (t == "0" || t == "no" || t == "false" || t == "off" || t.empty()) netrc = "";
		else netrc = absolute(m.str("netrc"));
	}
	// Hosts file URLs may point at besides the upstream's (a CDN, a
	// storage bucket): one per line or separated by spaces.
	std::vector<std::string> file_hosts;
	for (const auto &h : items(m.lines("file-hosts"))) {
		if (h.find_first_of("/@?#") != std::string::npos)
			fail(cfg, "mirror", m.find("file-hosts"), "file-hosts", "'" + h + "' is not a host name (or HOST:PORT)");
		else file_hosts.push_back(lower(h));
	}
	struct Ignored {
		const char *key, *dflt, *why;
	};
	static const Ignored ignored[] = {
	    {"cleanup", "false", "pypi-mirror never creates the legacy directories it removes"},
	    {"keep-index-versions", "0", "index pages are replaced atomically; no versions are kept"},
	    {"log-config", "", "logging goes to [pypi-mirror] log-dir"},
	    {"verifiers", "3", "there is no verify command"},
	    {"storage-filesystem-manage-permissions", "true", "files are created 0644 under the umask"},
	    {"delete-packages", "true", "removals upstream are always applied"},
	};
	for (const auto &ig : ignored) {
		Value *v = m.find(ig.key);
		if (!v) continue;
		std::string t = lower(trim_copy(v->text));
		if (t != ig.dflt && !t.empty())
			LOG_INFO("%s: [mirror] %s = %s is ignored: %s", file.c_str(), v->key.c_str(), t.c_str(), ig.why);
		else LOG_DEBUG("%s: [mirror] %s is accepted and ignored: %s", file.c_str(), v->key.c_str(), ig.why);
	}

	Reader p(cfg, "pypi-mirror");
	std::string log_dir = absolute(p.str("log-dir", "/var/log/pypi-mirror"));
	// What stays on local disk: a run's scratch space (and, on a bucket, the
	// lock): the mirror directory itself, or for a bucket local-dir (default
	// $TMPDIR/pypi-mirror.BUCKET.PREFIX, one per mirror).
	std::string local_dir = p.str("local-dir");
	if (!local_dir.empty()) {
		local_dir = absolute(local_dir);
	} else if (s3) {
		const char *t = getenv("TMPDIR");
		std::string leaf = directory.substr(5);
		for (char &ch : leaf)
			if (ch == '/') ch = '.';
		local_dir = std::string(t && *t ? t : "/tmp") + "/pypi-mirror." + leaf;
	} else {
		local_dir = directory;
	}
	std::string lock_file = p.str("lock-file");
	lock_file = lock_file.empty() ? local_dir + "/.lock" : absolute(lock_file);
	std::string max_deletions;
	if (p.present("max-deletions") && !p.str("max-deletions").empty())
		max_deletions = std::to_string(p.integer("max-deletions", 0, 0, 1LL << 40));
	long long stale_rounds = p.integer("stale-rounds", 3, 0, 20);
	std::string stale_backoff = p.decimal("stale-backoff", "2");
	std::string source = p.present("source") ? p.choice("source", "", {"simple", "xmlrpc"}) : "";
	if (source.empty() && m.present("api-method")) source = m.choice("api-method", "", {"simple", "xmlrpc"});
	bool purge = p.boolean("purge", true);
	std::string metrics_file = absolute(p.str("metrics-file"));
	bool fsync = p.boolean("fsync", false);
	long long concurrency = p.integer("concurrency", workers * 4, 1, 256);
	long long resolve_concurrency = p.integer("resolve-concurrency", workers * 4, 1, 256);
	// Where pkg-resolve(1) learns a project's files (its --source).
	std::string metadata_source = p.choice("metadata-source", "auto", {"auto", "json", "simple"});

	// [demand]: a partial mirror of what clients ask for (pkg-demand(1)).
	// The section being there turns it on; enabled = false turns it off.
	bool demand_section = cfg.sections.count("demand") > 0;
	Reader dm(cfg, "demand");
	bool demand = demand_section && dm.boolean("enabled", true);
	std::vector<std::string> demand_logs, demand_keep;
	for (auto &l : dm.lines("logs")) demand_logs.push_back(absolute(l));
	if (demand && demand_logs.empty())
		fail(cfg, "demand", dm.find("logs"), "logs", "needs at least one access log file (one per line)");
	for (auto &n : items(dm.lines("keep"))) {
		if (!pm::valid_project_name(n)) fail(cfg, "demand", dm.find("keep"), "keep", "not a project name: '" + n + "'");
		else demand_keep.push_back(pm::normalize_name(n));
	}
	long long demand_min = dm.integer("min-requests", 1, 1, 10000);
	long long demand_window = dm.duration("window", 7 * 86400, 1);
	long long demand_expire = dm.duration("expire", 30 * 86400, 0);
	long long demand_absent = dm.duration("absent-ttl", 86400, 0);
	long long demand_max_new = dm.integer("max-new", 100, 0, 1000000);

	// [closure]: pkg-closure(1)'s requirement sources, target environments
	// and version policy, handed to the wrapper as one argument list.
	Reader cl(cfg, "closure");
	std::string closure_args;
	bool closure = false;
	auto words = [](const std::string &t) {
		std::vector<std::string> w;
		size_t i = 0;
		while ((i = t.find_first_not_of(" \t\n", i)) != std::string::npos) {
			size_t e = t.find_first_of(" \t\n", i);
			w.push_back(t.substr(i, e == std::string::npos ? e : e - i));
			i = e;
		}
		return w;
	};
	// Lists: white space or one item a line (a continued value).
	auto text = [&](const char *key) {
		Value *v = cl.find(key);
		return v ? v->text : std::string();
	};
	auto arg = [&](const char *opt, const std::string &v) {
		closure_args += (closure_args.empty() ? "" : " ") + std::string(opt) + " " + shell_quote(v);
	};
	for (auto [key, opt] : {std::pair{"requirements", "-r"}, {"constraints", "-c"}, {"pyproject", "--pyproject"},
	                        {"lock", "--lock"}})
		for (auto &w : words(text(key))) {
			if (strcmp(opt, "-c") != 0) closure = true;
			arg(opt, absolute(w));
		}
	for (auto &w : words(text("extras"))) arg("--extra", w);
	bool envs = false;
	for (auto &w : words(text("environments"))) {
		pm::TargetEnv e;
		std::string why;
		if (!pm::parse_target_env(w, e, why)) fail(cfg, "closure", cl.find("environments"), "environments", why);
		arg("-e", w);
		envs = true;
	}
	if (long long n = cl.integer("newest", 0, 0, 1000000)) arg("--newest", std::to_string(n));
	if (cl.present("max-projects")) arg("--max-projects", std::to_string(cl.integer("max-projects", 1000, 1, 10000000)));
	if (closure && !envs && (cl.present("requirements") || cl.present("pyproject")))
		fail(cfg, "closure", nullptr, "environments", "is required with requirements or pyproject (e.g. cp312-manylinux-x86_64)");
	if (!closure && !closure_args.empty())
		fail(cfg, "closure", nullptr, "requirements", "[closure] names no requirements, pyproject or lock file");

	// What the tools do not do on a bucket: refused, not half done. A diff
	// file lists the local paths of what a run wrote; a bucket has none.
	if (s3 && !diff_file.empty())
		fail(cfg, "mirror", m.find("diff-file"), "", "is not supported with storage-backend = s3");

	// Anything left unread in our sections is a typo or a key from
	// another version: say so, naming it, but keep going.
	for (Reader *r : {&m, &p, &dm, &cl})
		for (auto &[k, v] : r->section())
			if (!v.used)
				LOG_WARN("%s: [%s] %s: unknown key, ignored", file.c_str(), r->name(), v.key.c_str());
	bool filters = false;
	for (const auto &s : cfg.section_order) {
		if (s == "mirror" || s == "pypi-mirror" || s == "demand" || s == "closure") continue;
		if (s == "plugins") {
			auto it = cfg.sections[s].find("enabled");
			if (it != cfg.sections[s].end() && !trim_copy(it->second.text).empty()) filters = true;
			continue;
		}
		if (!foreign_section(s)) LOG_WARN("%s: [%s]: unknown section, ignored", file.c_str(), s.c_str());
	}

	if (g_errors) return pm::kExitUsage;

	// What the wrapper reads (pypi-mirror(1)): one name a setting.
	out.set({
	    // where the mirror is and what it mirrors ([pypi-mirror] local-dir), how long it waits
	    {"PM_DIRECTORY", directory}, {"PM_LOCAL_DIR", local_dir}, {"PM_MASTER", master},
	    {"PM_ALLOW_NON_HTTPS", allow_http}, {"PM_WORKERS", workers}, {"PM_TIMEOUT", timeout},
	    {"PM_GLOBAL_TIMEOUT", global_timeout},
	    // [mirror]: the pages and the downloads
	    {"PM_JSON", json}, {"PM_RELEASE_FILES", release_files}, {"PM_ROOT_URI", root_uri},
	    {"PM_COMPARE_METHOD", compare}, {"PM_STOP_ON_ERROR", stop_on_error},
	    {"PM_DOWNLOAD_MIRROR", download_mirror}, {"PM_DOWNLOAD_MIRROR_NO_FALLBACK", dm_no_fallback},
	    {"PM_SIMPLE_FORMAT", simple_format}, {"PM_DIFF_FILE", diff_file}, {"PM_DIFF_APPEND_EPOCH", diff_epoch},
	    {"PM_CORE_METADATA", core_metadata},
	    // [mirror]: a private upstream (the tools get these in their environment, below)
	    {"PM_PROXY", proxy}, {"PM_CA_BUNDLE", ca_bundle}, {"PM_CLIENT_CERT", client_cert},
	    {"PM_CLIENT_KEY", client_key}, {"PM_NETRC", netrc}, {"PM_USERNAME", username}, {"PM_PASSWORD", password},
	    {"PM_PASSWORD_FILE", password_file}, {"PM_TOKEN", token}, {"PM_TOKEN_FILE", token_file},
	    {"PM_FILE_HOSTS", join(file_hosts, " ")},
	    // [pypi-mirror]
	    {"PM_LOG_DIR", log_dir}, {"PM_LOCK_FILE", lock_file}, {"PM_MAX_DELETIONS", max_deletions},
	    {"PM_STALE_ROUNDS", stale_rounds}, {"PM_STALE_BACKOFF", stale_backoff}, {"PM_SOURCE", source},
	    {"PM_PURGE", purge}, {"PM_METRICS_FILE", metrics_file}, {"PM_FSYNC", fsync},
	    {"PM_CONCURRENCY", concurrency}, {"PM_RESOLVE_CONCURRENCY", resolve_concurrency},
	    {"PM_METADATA_SOURCE", metadata_source}, {"PM_FILTERS_ENABLED", filters},
	    // [demand]
	    {"PM_DEMAND", demand}, {"PM_DEMAND_LOGS", join(demand_logs, "\n")}, {"PM_DEMAND_MIN_REQUESTS", demand_min},
	    {"PM_DEMAND_WINDOW", demand_window}, {"PM_DEMAND_EXPIRE", demand_expire},
	    {"PM_DEMAND_KEEP", join(demand_keep, " ")}, {"PM_DEMAND_ABSENT_TTL", demand_absent},
	    {"PM_DEMAND_MAX_NEW", demand_max_new},
	    // [closure]
	    {"PM_CLOSURE", closure}, {"PM_CLOSURE_ARGS", closure_args}
	});

	// What the settings mean to the tools: the environment they read and
	// each tool's command line, so that pypi-mirror(1) derives nothing from
	// the settings itself. PM_ENV, PM_ENV_UNSET and PM_ARGS_* are arrays.
	// A run's scratch space is local (local-dir): on a bucket, too.
	pm::Layout lay(directory), local(local_dir);
	out.set("PM_WORK_DIR", local.work_dir());
	out.set("PM_SPOOL_DIR", local.spool_dir());
	Words env, unset;
	// The tools find a bucket's [s3] section (its credentials) here.
	env.add("PYPI_MIRROR_CONFIG=" + absolute(file));
	env.add("PYPI_MIRROR_UPSTREAM=" + master);
	env.add("PYPI_MIRROR_TIMEOUT=" + std::to_string(timeout));
	env.add("PYPI_MIRROR_GLOBAL_TIMEOUT=" + std::to_string(global_timeout));
	if (allow_http) env.add("PYPI_MIRROR_ALLOW_NON_HTTPS=1");
	else unset.add("PYPI_MIRROR_ALLOW_NON_HTTPS");
	if (!proxy.empty())
		for (const char *v : {"http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY"}) env.add(std::string(v) + "=" + proxy);
	// A private upstream (http_options_from_env): credentials reach the
	// tools through the environment or a file, never argv.
	for (auto [name, value] : {std::pair<const char *, const std::string *>{"CA_BUNDLE", &ca_bundle},
	                           {"CLIENT_CERT", &client_cert}, {"CLIENT_KEY", &client_key}, {"NETRC", &netrc},
	                           {"USERNAME", &username}, {"PASSWORD", &password}, {"PASSWORD_FILE", &password_file},
	                           {"TOKEN", &token}, {"TOKEN_FILE", &token_file}}) {
		std::string var = std::string("PYPI_MIRROR_") + name;
		if (value->empty()) unset.add(var);
		else env.add(var + "=" + *value);
	}
	out.array("PM_ENV", env);
	out.array("PM_ENV_UNSET", unset);
	Words hosts;
	for (auto &h : file_hosts) hosts.add("--allow-host").add(h);
	const std::string jobs = std::to_string(resolve_concurrency), work = local.work_dir();
	Words fetch, resolve, closure_cmd, filter, get, index, purge_cmd, dm_cmd, learn, verify, state;
	fetch.add("-u").add(master).add("-j").add(jobs);
	if (!source.empty()) fetch.add("--source").add(source);
	resolve.add("-u").add(master).add("-j").add(jobs).add("--source").add(metadata_source).add(hosts);
	// The metadata cache is local: under the mirror, or for a bucket under
	// local-dir (it saves fetches; losing it costs nothing else).
	closure_cmd.add("-u").add(master).add("-j").add(jobs).add(hosts).add("--cache").add((s3 ? local : lay).closure_cache());
	closure_cmd.add("--dropped").add(work + "/closure-dropped.ndjson");
	if (!closure_args.empty()) closure_cmd.text += " " + closure_args; // quoted already
	filter.add("-c").add(absolute(file)).add("-d").add(directory).add("--dropped").add(work + "/dropped.ndjson");
	get.add("-d").add(directory).add("-u").add(master).add("-j").add(std::to_string(concurrency)).add(hosts);
	get.add("--compare-method").add(compare).add("--no-progress");
	if (!download_mirror.empty()) get.add("--download-mirror").add(download_mirror);
	if (dm_no_fallback) get.add("--download-mirror-no-fallback");
	if (!core_metadata) get.add("--no-metadata");
	index.add("-d").add(directory).add("--simple-format").add(simple_format);
	if (!root_uri.empty()) index.add("--root-uri").add(root_uri);
	if (!release_files) index.add("--no-release-files");
	if (json) index.add("--json");
	// pkg-resolve's spool is under local-dir: index-write consumes it.
	if (json && local_dir != directory) index.add("--local-dir").add(local_dir);
	if (!max_deletions.empty()) index.add("--max-deletions").add(max_deletions);
	purge_cmd.add("-u").add(master);
	if (!purge) purge_cmd.add("--no-purge");
	dm_cmd.add("-d").add(directory).add("--min-requests").add(std::to_string(demand_min));
	dm_cmd.add("--window").add(std::to_string(demand_window)).add("--expire").add(std::to_string(demand_expire));
	dm_cmd.add("--absent-ttl").add(std::to_string(demand_absent)).add("--max-new").add(std::to_string(demand_max_new));
	for (auto &l : demand_logs) dm_cmd.add("--log").add(l);
	for (auto &k : demand_keep) dm_cmd.add("--keep").add(k);
	learn.add("-d").add(directory).add("--absent-ttl").add(std::to_string(demand_absent)).add("--learn");
	verify.add("-d").add(directory);
	if (json) verify.add("--json");
	state.add("-d").add(directory);
	if (local_dir != directory) state.add("--local-dir").add(local_dir);
	// collect's and finish's: where the metrics go, whether PURGE is asked.
	if (!metrics_file.empty()) state.add("--metrics").add(metrics_file);
	if (purge) state.add("--purge");
	for (Words *w : {&get, &index, &dm_cmd, &learn, &state})
		if (fsync) w->add("--fsync");
	out.array("PM_ARGS_CHANGELOG_FETCH", fetch);
	out.array("PM_ARGS_PKG_RESOLVE", resolve);
	out.array("PM_ARGS_SERIAL_CHECK", Words().add("--max-rounds").add(std::to_string(stale_rounds)));
	out.array("PM_ARGS_PKG_CLOSURE", closure_cmd);
	out.array("PM_ARGS_PKG_FILTER", filter);
	out.array("PM_ARGS_ARTIFACT_GET", get);
	out.array("PM_ARGS_INDEX_WRITE", index);
	out.array("PM_ARGS_CDN_PURGE", purge_cmd);
	out.array("PM_ARGS_PKG_DEMAND", dm_cmd);
	out.array("PM_ARGS_PKG_DEMAND_LEARN", learn);
	out.array("PM_ARGS_MIRROR_VERIFY", verify);
	out.array("PM_ARGS_MIRROR_STATE", state);
	for (const auto &[k, v] : out.vars)
		if (k.back() == '(') printf("%s%s\n", k.c_str(), v.c_str());
		else printf("%s=%s\n", k.c_str(), shell_quote(v).c_str());
	return fflush(stdout) == 0 ? pm::kExitOk : pm::kExitFatal;
}
