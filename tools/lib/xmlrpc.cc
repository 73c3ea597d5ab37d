#include "xmlrpc.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <expat.h>

#include "text.h"

namespace pm::xmlrpc {

const char *type_name(Type t)
{
	switch (t) {
	case Type::Nil: return "nil";
	case Type::Int: return "int";
	case Type::Bool: return "boolean";
	case Type::Double: return "double";
	case Type::String: return "string";
	case Type::Base64: return "base64";
	case Type::DateTime: return "dateTime.iso8601";
	case Type::Array: return "array";
	case Type::Struct: return "struct";
	}
	return "?";
}

const Value *Value::member(const std::string &name) const
{
	if (type != Type::Struct) return nullptr;
	for (auto &m : members)
		if (m.first == name) return &m.second;
	return nullptr;
}

Value Value::make_int(long long v)
{
	Value r;
	r.type = Type::Int;
	r.i = v;
	return r;
}

Value Value::make_string(std::string v)
{
	Value r;
	r.type = Type::String;
	r.s = std::move(v);
	return r;
}

namespace {

// The elements of the response grammar. Scalars come after Name.
enum class El {
	MethodResponse, Params, Param, Fault, Value, Array, Data, Struct, Member, Name,
	Int, Bool, Double, String, Base64, DateTime, Nil,
};

const char *el_name(El e)
{
	static const char *const names[] = {"methodResponse", "params", "param", "fault", "value", "array",
	                                    "data", "struct", "member", "name", "int", "boolean", "double",
	                                    "string", "base64", "dateTime.iso8601", "nil"};
	return names[static_cast<int>(e)];
}

bool el_from(const char *tag, El &out)
{
	// Python's unmarshaller drops a namespace prefix ("ex:nil" is <nil>), and
	// so do we: some servers spell the extension types that way.
	const char *colon = strrchr(tag, ':');
	if (colon) tag = colon + 1;
	static const struct {
		const char *n;
		El e;
	} map[] = {{"methodResponse", El::MethodResponse}, {"params", El::Params}, {"param", El::Param},
	           {"fault", El::Fault}, {"value", El::Value}, {"array", El::Array}, {"data", El::Data},
	           {"struct", El::Struct}, {"member", El::Member}, {"name", El::Name}, {"int", El::Int},
	           {"i4", El::Int}, {"i8", El::Int}, {"boolean", El::Bool}, {"double", El::Double},
	           {"string", El::String}, {"base64", El::Base64}, {"dateTime.iso8601", El::DateTime},
	           {"nil", El::Nil}};
	for (auto &m : map)
		if (!strcmp(tag, m.n)) {
			out = m.e;
			return true;
		}
	return false;
}

bool is_scalar(El e) { return e >= El::Int; }

bool all_space(const std::string &s)
{
	return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

} // namespace

struct ResponseParser::Impl {
	ResponseParser &o;
	XML_Parser xp = nullptr;
	bool failed = false;

	struct Elem {
		El el;
		int children = 0;      // child elements seen
		bool got_name = false; // <member>: its <name> came
		bool got_value = false;
	};
	std::vector<Elem> elems;

	// Values under construction, outermost first. vals[0] is the result
	// (or the fault struct); a child is moved into its parent when it ends.
	struct Frame {
		Value v;
		bool typed = false;      // a type element was seen inside <value>
		std::string member_name; // for a struct frame: the pending <name>
	};
	std::vector<Frame> vals;
	std::string text; // character data of the innermost text-bearing element
	size_t held = 0;  // bytes held in vals (approximate)
	bool in_fault = false;
	bool have_answer = false;
	bool closed = false; // </methodResponse> seen

	explicit Impl(ResponseParser &owner) : o(owner) { create(); }
	~Impl()
	{
		if (xp) XML_ParserFree(xp);
	}

	void create()
	{
		if (xp) XML_ParserFree(xp);
		xp = XML_ParserCreate(nullptr);
		XML_SetUserData(xp, this);
		XML_SetElementHandler(xp, &Impl::on_start, &Impl::on_end);
		XML_SetCharacterDataHandler(xp, &Impl::on_text);
		// No DTD, ever: a DOCTYPE is the only door to entity declarations,
		// and with them to exponential expansion ("billion laughs") and
		// external fetches. XML-RPC has no use for one.
		XML_SetStartDoctypeDeclHandler(xp, &Impl::on_doctype);
		XML_SetEntityDeclHandler(xp, &Impl::on_entity);
		XML_SetParamEntityParsing(xp, XML_PARAM_ENTITY_PARSING_NEVER);
#if defined(XML_DTD) && (XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4))
		XML_SetBillionLaughsAttackProtectionMaximumAmplification(xp, 10.0f);
#endif
		failed = false;
		elems.clear();
		vals.clear();
		text.clear();
		held = 0;
		in_fault = false;
		have_answer = false;
		closed = false;
	}

	void fail(const std::string &msg)
	{
		if (failed) return;
		failed = true;
		o.error_ = "line " + std::to_string(XML_GetCurrentLineNumber(xp)) + ", column " +
		           std::to_string(XML_GetCurrentColumnNumber(xp)) + ": " + msg;
		XML_StopParser(xp, XML_FALSE);
	}

	static void on_doctype(void *ud, const XML_Char *, const XML_Char *, const XML_Char *, int)
	{
		static_cast<Impl *>(ud)->fail("a DOCTYPE is not allowed in an XML-RPC response");
	}

	static void on_entity(void *ud, const XML_Char *, int, const XML_Char *, int, const XML_Char *,
	                      const XML_Char *, const XML_Char *, const XML_Char *)
	{
		static_cast<Impl *>(ud)->fail("an entity declaration is not allowed in an XML-RPC response");
	}

	// Which children each element may have.
	bool allowed(El parent, El child, const Elem &p, std::string &why)
	{
		// Most elements hold exactly one child: a second is refused with
		// what says what it was.
		auto only_child = [&](const std::string &what) {
			if (p.children == 0) return true;
			why = what;
			return false;
		};
		switch (parent) {
		case El::MethodResponse:
			if (child != El::Params && child != El::Fault) break;
			return only_child("a second <" + std::string(el_name(child)) + "> in <methodResponse>");
		case El::Params:
			if (child != El::Param) break;
			return only_child("more than one <param> in a response");
		case El::Param:
		case El::Fault:
			if (child != El::Value) break;
			return only_child("more than one <value> in <" + std::string(el_name(parent)) + ">");
		case El::Value:
			if (!is_scalar(child) && child != El::Array && child != El::Struct) break;
			return only_child("more than one type inside <value>");
		case El::Array:
			if (child != El::Data) break;
			return only_child("more than one <data> in <array>");
		case El::Data:
			if (child == El::Value) return true;
			break;
		case El::Struct:
			if (child == El::Member) return true;
			break;
		case El::Member:
			if (child == El::Name && !p.got_name && !p.got_value) return true;
			if (child == El::Value && p.got_name && !p.got_value) return true;
			why = "<member> wants one <name> then one <value>";
			return false;
		default:
			break;
		}
		why = "unexpected <" + std::string(el_name(child)) + "> in <" + el_name(parent) + ">";
		return false;
	}

	void add_held(size_t n)
	{
		held += n;
		if (held > o.limits_.max_value_bytes)
			fail("value larger than " + std::to_string(o.limits_.max_value_bytes) + " bytes");
	}

	static void on_start(void *ud, const XML_Char *tag, const XML_Char **)
	{
		auto *I = static_cast<Impl *>(ud);
		if (I->failed) return;
		I->start(tag);
	}

	void start(const char *tag)
	{
		El e;
		if (!el_from(tag, e)) {
			fail(std::string("unknown element <") + tag + ">");
			return;
		}
		if (elems.size() >= o.limits_.max_depth) {
			fail("elements nested deeper than " + std::to_string(o.limits_.max_depth));
			return;
		}
		if (elems.empty()) {
			if (e != El::MethodResponse || closed) {
				fail(std::string("expected <methodResponse>, not <") + el_name(e) + ">");
				return;
			}
		} else {
			Elem &p = elems.back();
			std::string why;
			if (!allowed(p.el, e, p, why)) {
				fail(why);
				return;
			}
			if (!all_space(text)) {
				fail(std::string("text before <") + el_name(e) + "> in <" + el_name(p.el) + ">");
				return;
			}
			p.children++;
			if (p.el == El::Member) (e == El::Name ? p.got_name : p.got_value) = true;
			if (p.el == El::Fault) in_fault = true;
		}
		text.clear();
		elems.push_back(Elem{e, 0, false, false});
		if (e == El::Value) {
			vals.emplace_back();
			vals.back().v.type = Type::String; // untyped text is a string
			add_held(sizeof(Value));
		} else if (e == El::Member) {
			vals.back().member_name.clear();
		} else if (e != El::Name && (is_scalar(e) || e == El::Array || e == El::Struct)) {
			Frame &f = vals.back();
			f.typed = true;
			f.v.type = e == El::Array    ? Type::Array
			           : e == El::Struct ? Type::Struct
			           : e == El::Int    ? Type::Int
			           : e == El::Bool   ? Type::Bool
			           : e == El::Double ? Type::Double
			           : e == El::Base64 ? Type::Base64
			           : e == El::DateTime ? Type::DateTime
			           : e == El::Nil    ? Type::Nil
			                             : Type::String;
		}
	}

	static void on_text(void *ud, const XML_Char *s, int len)
	{
		auto *I = static_cast<Impl *>(ud);
		if (I->failed) return;
		if (I->text.size() + static_cast<size_t>(len) > I->o.limits_.max_text) {
			I->fail("text longer than " + std::to_string(I->o.limits_.max_text) + " bytes");
			return;
		}
		I->text.append(s, static_cast<size_t>(len));
	}

	static void on_end(void *ud, const XML_Char *)
	{
		auto *I = static_cast<Impl *>(ud);
		if (I->failed) return;
		I->end();
	}

	bool parse_int(const std::string &raw, long long &v)
	{
		std::string t = trim_copy(raw);
		if (t.empty()) return false;
		errno = 0;
		char *end;
		v = strtoll(t.c_str(), &end, 10);
		return !errno && *end == 0;
	}

	void end()
	{
		Elem me = elems.back();
		elems.pop_back();
		El e = me.el;
		bool text_ok = is_scalar(e) || e == El::Name || (e == El::Value && !me.children);
		if (!text_ok && !all_space(text)) {
			fail(std::string("text in <") + el_name(e) + ">");
			return;
		}
		switch (e) {
		case El::Int: {
			Frame &f = vals.back();
			if (!parse_int(text, f.v.i)) {
				fail("not an integer: '" + trim_copy(text).substr(0, 40) + "'");
				return;
			}
			break;
		}
		case El::Bool: {
			std::string t = trim_copy(text);
			if (t != "0" && t != "1") {
				fail("not a boolean (0 or 1): '" + t.substr(0, 40) + "'");
				return;
			}
			vals.back().v.i = t == "1";
			break;
		}
		case El::Double: {
			std::string t = trim_copy(text);
			char *end;
			errno = 0;
			double d = strtod(t.c_str(), &end);
			if (t.empty() || *end || errno == ERANGE) {
				fail("not a double: '" + t.substr(0, 40) + "'");
				return;
			}
			vals.back().v.d = d;
			break;
		}
		case El::String:
		case El::Base64:
		case El::DateTime:
			add_held(text.size());
			if (failed) return;
			vals.back().v.s = std::move(text);
			break;
		case El::Nil:
			if (!all_space(text)) {
				fail("text inside <nil/>");
				return;
			}
			break;
		case El::Name:
			add_held(text.size());
			if (failed) return;
			vals.back().member_name = std::move(text);
			break;
		case El::Member:
			if (!me.got_name || !me.got_value) {
				fail("<member> without a <name> and a <value>");
				return;
			}
			break;
		case El::Value:
			end_value(me);
			break;
		case El::Param:
		case El::Fault:
			if (me.children == 0) {
				fail(std::string("<") + el_name(e) + "> without a <value>");
				return;
			}
			if (e == El::Fault) end_fault();
			have_answer = true;
			break;
		case El::MethodResponse:
			if (!have_answer) {
				fail("<methodResponse> without <params> or <fault>");
				return;
			}
			closed = true;
			break;
		case El::Params:
			if (me.children == 0) {
				fail("<params> without a <param>");
				return;
			}
			break;
		case El::Array:
			if (me.children == 0) {
				fail("<array> without <data>");
				return;
			}
			break;
		default:
			break;
		}
		text.clear();
	}

	void end_value(const Elem &me)
	{
		Frame f = std::move(vals.back());
		vals.pop_back();
		if (!me.children) {
			add_held(text.size());
			if (failed) return;
			f.v.s = std::move(text); // <value>text</value> is a string
		}
		if (vals.empty()) { // the result itself, or the fault struct
			o.result_ = std::move(f.v);
			return;
		}
		Frame &parent = vals.back();
		bool top = vals.size() == 1 && !in_fault;
		if (parent.v.type == Type::Array) {
			if (top && o.item_sink_) {
				std::string why;
				o.streamed_++;
				if (!o.item_sink_(f.v, why)) {
					fail("stopped: " + why);
					return;
				}
				held = sizeof(Value);
			} else {
				parent.v.items.push_back(std::move(f.v));
			}
		} else { // a struct member's value
			if (top && o.member_sink_) {
				std::string why;
				o.streamed_++;
				if (!o.member_sink_(parent.member_name, f.v, why)) {
					fail("stopped: " + why);
					return;
				}
				held = sizeof(Value);
			} else {
				parent.v.members.emplace_back(std::move(parent.member_name), std::move(f.v));
			}
		}
	}

	void end_fault()
	{
		const Value &v = o.result_;
		const Value *code = v.member("faultCode");
		const Value *str = v.member("faultString");
		if (v.type != Type::Struct || !code || !str || code->type != Type::Int || str->type != Type::String) {
			fail("malformed <fault>: wants a struct with faultCode (int) and faultString (string)");
			return;
		}
		o.fault_ = true;
		o.fault_code_ = code->i;
		o.fault_string_ = str->s;
	}

	bool parse(const char *data, size_t n, bool final)
	{
		if (failed) return false;
		// XML_Parse takes an int length: feed big chunks in slices.
		do {
			size_t k = n > (1u << 30) ? (1u << 30) : n;
			bool last = final && k == n;
			if (XML_Parse(xp, data, static_cast<int>(k), last ? XML_TRUE : XML_FALSE) != XML_STATUS_OK) {
				if (!failed) {
					failed = true;
					o.error_ = "line " + std::to_string(XML_GetCurrentLineNumber(xp)) + ", column " +
					           std::to_string(XML_GetCurrentColumnNumber(xp)) + ": " +
					           XML_ErrorString(XML_GetErrorCode(xp));
				}
				return false;
			}
			data += k;
			n -= k;
		} while (n);
		return true;
	}
};

ResponseParser::ResponseParser(Limits limits) : limits_(limits), impl_(std::make_unique<Impl>(*this)) {}

ResponseParser::~ResponseParser() = default;

void ResponseParser::reset()
{
	error_.clear();
	fault_ = false;
	fault_code_ = 0;
	fault_string_.clear();
	result_ = Value();
	streamed_ = 0;
	bytes_ = 0;
	done_ = false;
	impl_->create();
}

bool ResponseParser::feed(const char *data, size_t n)
{
	if (done_) {
		if (error_.empty()) error_ = "data after the end of input";
		return false;
	}
	bytes_ += n;
	return impl_->parse(data, n, false);
}

bool ResponseParser::finish()
{
	if (done_) return error_.empty();
	done_ = true;
	if (!impl_->parse("", 0, true)) return false;
	if (!impl_->closed) {
		error_ = "truncated response";
		return false;
	}
	return true;
}

std::string xml_escape(const std::string &s)
{
	std::string r;
	r.reserve(s.size());
	for (char c : s) {
		switch (c) {
		case '&': r += "&amp;"; break;
		case '<': r += "&lt;"; break;
		case '>': r += "&gt;"; break;
		default: r += c;
		}
	}
	return r;
}

namespace {

// Python's repr() of a float: the shortest text that reads back the same.
std::string repr_double(double d)
{
	if (std::isnan(d)) return "nan";
	if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
	char buf[64];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, d);
		if (strtod(buf, nullptr) == d) break;
	}
	std::string s = buf;
	if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
	return s;
}

void dump(const Value &v, std::string &out)
{
	switch (v.type) {
	case Type::Nil: out += "<value><nil/></value>"; break;
	case Type::Int: out += "<value><int>" + std::to_string(v.i) + "</int></value>\n"; break;
	case Type::Bool: out += std::string("<value><boolean>") + (v.i ? "1" : "0") + "</boolean></value>\n"; break;
	case Type::Double: out += "<value><double>" + repr_double(v.d) + "</double></value>\n"; break;
	case Type::String: out += "<value><string>" + xml_escape(v.s) + "</string></value>\n"; break;
	case Type::Base64: out += "<value><base64>\n" + v.s + "</base64></value>\n"; break;
	case Type::DateTime: out += "<value><dateTime.iso8601>" + v.s + "</dateTime.iso8601></value>\n"; break;
	case Type::Array:
		out += "<value><array><data>\n";
		for (auto &i : v.items) dump(i, out);
		out += "</data></array></value>\n";
		break;
	case Type::Struct:
		out += "<value><struct>\n";
		for (auto &m : v.members) {
			out += "<member>\n<name>" + xml_escape(m.first) + "</name>\n";
			dump(m.second, out);
			out += "</member>\n";
		}
		out += "</struct></value>\n";
		break;
	}
}

} // namespace

std::string method_call(const std::string &method, const std::vector<Value> &params)
{
	std::string out = "<?xml version='1.0'?>\n<methodCall>\n<methodName>" + xml_escape(method) +
	                  "</methodName>\n<params>\n";
	for (auto &p : params) {
		out += "<param>\n";
		dump(p, out);
		out += "</param>\n";
	}
	out += "</params>\n</methodCall>\n";
	return out;
}

} // namespace pm::xmlrpc
