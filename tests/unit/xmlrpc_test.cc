// Unit tests for tools/lib/xmlrpc.{h,cc}: the streaming XML-RPC response
// parser. The well-formed inputs are byte-exact output of Python's
// xmlrpc.client.dumps(..., methodresponse=True, allow_none=True), which is
// what PyPI sends.
#include "xmlrpc.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace x = pm::xmlrpc;

namespace {

// The changelog_since_serial example from the interface notes.
const char kChangelog[] =
    "<?xml version='1.0'?>\n"
    "<methodResponse>\n"
    "<params>\n"
    "<param>\n"
    "<value><array><data>\n"
    "<value><array><data>\n"
    "<value><string>openllm</string></value>\n"
    "<value><string>0.4.33.dev3</string></value>\n"
    "<value><int>1701280908</int></value>\n"
    "<value><string>new release</string></value>\n"
    "<value><int>4601225</int></value>\n"
    "</data></array></value>\n"
    "<value><array><data>\n"
    "<value><string>foo</string></value>\n"
    "<value><nil/></value><value><int>1701280909</int></value>\n"
    "<value><string>create</string></value>\n"
    "<value><int>4601227</int></value>\n"
    "</data></array></value>\n"
    "</data></array></value>\n"
    "</param>\n"
    "</params>\n"
    "</methodResponse>\n";

// Python: dumps(({'A': 1, 'b': 2.5, 'c': True},), methodresponse=True)
const char kStruct[] =
    "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n<member>\n<name>A</name>\n"
    "<value><int>1</int></value>\n</member>\n<member>\n<name>b</name>\n<value><double>2.5</double></value>\n"
    "</member>\n<member>\n<name>c</name>\n<value><boolean>1</boolean></value>\n</member>\n</struct></value>\n"
    "</param>\n</params>\n</methodResponse>\n";

// Python: dumps(Fault(-32500, 'HTTPTooManyRequests: <x> & y'), methodresponse=True)
const char kFault[] =
    "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n"
    "<value><int>-32500</int></value>\n</member>\n<member>\n<name>faultString</name>\n"
    "<value><string>HTTPTooManyRequests: &lt;x&gt; &amp; y</string></value>\n</member>\n</struct></value>\n"
    "</fault>\n</methodResponse>\n";

std::string response(const std::string &value)
{
	return "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n" + value +
	       "</param>\n</params>\n</methodResponse>\n";
}

// Parses text in chunks of `chunk` bytes (0: all at once).
bool parse(x::ResponseParser &p, const std::string &text, size_t chunk = 0)
{
	if (chunk == 0) chunk = text.size() ? text.size() : 1;
	for (size_t i = 0; i < text.size(); i += chunk)
		if (!p.feed(text.data() + i, std::min(chunk, text.size() - i))) return false;
	return p.finish();
}

// Parses and returns the error ("" if it parsed).
std::string error_of(const std::string &text, x::Limits limits = x::Limits())
{
	x::ResponseParser p(limits);
	if (parse(p, text)) return "";
	EXPECT_FALSE(p.error().empty());
	return p.error();
}

struct Row {
	std::string name, version, action;
	bool version_nil = false;
	long long ts = 0, serial = 0;
};

std::vector<Row> rows_of(x::ResponseParser &p, std::vector<Row> &rows)
{
	p.set_item_sink([&rows](x::Value &v, std::string &) {
		EXPECT_EQ(v.type, x::Type::Array);
		EXPECT_EQ(v.items.size(), 5u);
		if (v.items.size() != 5) return true;
		Row r;
		r.name = v.items[0].s;
		r.version_nil = v.items[1].is_nil();
		r.version = v.items[1].s;
		r.ts = v.items[2].i;
		r.action = v.items[3].s;
		r.serial = v.items[4].i;
		rows.push_back(r);
		return true;
	});
	return rows;
}

} // namespace

TEST(Xmlrpc, ChangelogRowsStreamInAnyChunking)
{
	for (size_t chunk : {0, 1, 2, 7, 64, 4096}) {
		SCOPED_TRACE("chunk " + std::to_string(chunk));
		x::ResponseParser p;
		std::vector<Row> rows;
		rows_of(p, rows);
		ASSERT_TRUE(parse(p, kChangelog, chunk)) << p.error();
		EXPECT_FALSE(p.is_fault());
		ASSERT_EQ(rows.size(), 2u);
		EXPECT_EQ(rows[0].name, "openllm");
		EXPECT_EQ(rows[0].version, "0.4.33.dev3");
		EXPECT_FALSE(rows[0].version_nil);
		EXPECT_EQ(rows[0].ts, 1701280908);
		EXPECT_EQ(rows[0].action, "new release");
		EXPECT_EQ(rows[0].serial, 4601225);
		EXPECT_EQ(rows[1].name, "foo");
		EXPECT_TRUE(rows[1].version_nil);
		EXPECT_EQ(rows[1].action, "create");
		EXPECT_EQ(rows[1].serial, 4601227);
		// Streamed items are not kept.
		EXPECT_EQ(p.result().type, x::Type::Array);
		EXPECT_TRUE(p.result().items.empty());
		EXPECT_EQ(p.streamed(), 2u);
		EXPECT_EQ(p.bytes(), sizeof(kChangelog) - 1);
	}
}

TEST(Xmlrpc, WithoutSinkTheWholeResultIsKept)
{
	x::ResponseParser p;
	ASSERT_TRUE(parse(p, kChangelog)) << p.error();
	const x::Value &r = p.result();
	ASSERT_EQ(r.type, x::Type::Array);
	ASSERT_EQ(r.items.size(), 2u);
	ASSERT_EQ(r.items[1].items.size(), 5u);
	EXPECT_TRUE(r.items[1].items[1].is_nil());
	EXPECT_EQ(r.items[1].items[0].s, "foo");
	EXPECT_EQ(p.streamed(), 0u);
}

TEST(Xmlrpc, EmptyChangelogPage)
{
	// Python: dumps(([],), methodresponse=True)
	x::ResponseParser p;
	std::vector<Row> rows;
	rows_of(p, rows);
	ASSERT_TRUE(parse(p, response("<value><array><data>\n</data></array></value>\n"))) << p.error();
	EXPECT_EQ(p.result().type, x::Type::Array);
	EXPECT_TRUE(rows.empty());
}

TEST(Xmlrpc, StructResult)
{
	x::ResponseParser p;
	ASSERT_TRUE(parse(p, kStruct, 3)) << p.error();
	const x::Value &r = p.result();
	ASSERT_EQ(r.type, x::Type::Struct);
	ASSERT_EQ(r.members.size(), 3u);
	EXPECT_EQ(r.members[0].first, "A");
	ASSERT_NE(r.member("A"), nullptr);
	EXPECT_EQ(r.member("A")->i, 1);
	EXPECT_EQ(r.member("b")->type, x::Type::Double);
	EXPECT_DOUBLE_EQ(r.member("b")->d, 2.5);
	EXPECT_EQ(r.member("c")->type, x::Type::Bool);
	EXPECT_EQ(r.member("c")->i, 1);
	EXPECT_EQ(r.member("missing"), nullptr);
}

TEST(Xmlrpc, StructMembersStream)
{
	// list_packages_with_serial: display name -> last serial.
	std::string body = "<value><struct>\n";
	for (int i = 0; i < 1000; i++)
		body += "<member>\n<name>Pkg_" + std::to_string(i) + "</name>\n<value><int>" + std::to_string(100 + i) +
		        "</int></value>\n</member>\n";
	body += "</struct></value>\n";
	x::ResponseParser p;
	std::vector<std::pair<std::string, long long>> got;
	p.set_member_sink([&got](const std::string &n, x::Value &v, std::string &) {
		EXPECT_TRUE(v.is_int());
		got.emplace_back(n, v.i);
		return true;
	});
	ASSERT_TRUE(parse(p, response(body), 100)) << p.error();
	ASSERT_EQ(got.size(), 1000u);
	EXPECT_EQ(got[0], std::make_pair(std::string("Pkg_0"), 100LL));
	EXPECT_EQ(got[999], std::make_pair(std::string("Pkg_999"), 1099LL));
	EXPECT_TRUE(p.result().members.empty());
}

TEST(Xmlrpc, ScalarResult)
{
	// changelog_last_serial()
	x::ResponseParser p;
	ASSERT_TRUE(parse(p, response("<value><int>4601227</int></value>\n"))) << p.error();
	EXPECT_TRUE(p.result().is_int());
	EXPECT_EQ(p.result().i, 4601227);
}

TEST(Xmlrpc, NilResult)
{
	x::ResponseParser p;
	ASSERT_TRUE(parse(p, response("<value><nil/></value>"))) << p.error();
	EXPECT_TRUE(p.result().is_nil());
	// The extension spelled with a namespace prefix, as Apache's does.
	x::ResponseParser q;
	ASSERT_TRUE(parse(q, response("<value><ex:nil xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\"/>"
	                              "</value>")))
	    << q.error();
	EXPECT_TRUE(q.result().is_nil());
	EXPECT_NE(error_of(response("<value><nil>x</nil></value>")), "");
}

TEST(Xmlrpc, ScalarTypes)
{
	x::ResponseParser p;
	ASSERT_TRUE(parse(p, response("<value><array><data>\n"
	                              "<value>untyped &amp; text</value>\n"
	                              "<value><i4>-5</i4></value>\n"
	                              "<value><i8>9000000000</i8></value>\n"
	                              "<value><int> 42\n</int></value>\n"
	                              "<value><boolean>0</boolean></value>\n"
	                              "<value><double>-1.5e3</double></value>\n"
	                              "<value><string></string></value>\n"
	                              "<value></value>\n"
	                              "<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>\n"
	                              "<value><base64>\naGk=\n</base64></value>\n"
	                              "<value><string>&#8230; &amp;#8230; caf\xc3\xa9</string></value>\n"
	                              "</data></array></value>\n")))
	    << p.error();
	auto &it = p.result().items;
	ASSERT_EQ(it.size(), 11u);
	EXPECT_EQ(it[0].type, x::Type::String);
	EXPECT_EQ(it[0].s, "untyped & text");
	EXPECT_EQ(it[1].i, -5);
	EXPECT_EQ(it[2].i, 9000000000LL);
	EXPECT_EQ(it[3].i, 42);
	EXPECT_EQ(it[4].type, x::Type::Bool);
	EXPECT_EQ(it[4].i, 0);
	EXPECT_DOUBLE_EQ(it[5].d, -1500);
	EXPECT_EQ(it[6].type, x::Type::String);
	EXPECT_EQ(it[6].s, "");
	EXPECT_EQ(it[7].type, x::Type::String);
	EXPECT_EQ(it[8].type, x::Type::DateTime);
	EXPECT_EQ(it[8].s, "20240102T03:04:05");
	EXPECT_EQ(it[9].type, x::Type::Base64);
	EXPECT_EQ(it[9].s, "\naGk=\n");
	// A character reference is decoded; PyPI's double-escaped action text
	// arrives as the literal reference, as Python's client would see it.
	EXPECT_EQ(it[10].s, "\xe2\x80\xa6 &#8230; caf\xc3\xa9");
}

TEST(Xmlrpc, FaultTooManyRequests)
{
	for (size_t chunk : {0, 1, 5}) {
		x::ResponseParser p;
		std::vector<Row> rows;
		rows_of(p, rows);
		ASSERT_TRUE(parse(p, kFault, chunk)) << p.error();
		EXPECT_TRUE(p.is_fault());
		EXPECT_EQ(p.fault_code(), -32500);
		EXPECT_EQ(p.fault_string(), "HTTPTooManyRequests: <x> & y");
		EXPECT_TRUE(rows.empty());
	}
}

TEST(Xmlrpc, FaultOnOneLineAsTheEdgeSendsIt)
{
	x::ResponseParser p;
	ASSERT_TRUE(parse(p, "<?xml version='1.0'?><methodResponse><fault><value><struct><member><name>faultCode</name>"
	                     "<value><int>-32601</int></value></member><member><name>faultString</name><value>"
	                     "<string>RuntimeError: PyPI no longer supports the XMLRPC list_packages method.</string>"
	                     "</value></member></struct></value></fault></methodResponse>"))
	    << p.error();
	EXPECT_TRUE(p.is_fault());
	EXPECT_EQ(p.fault_code(), -32601);
	EXPECT_NE(p.fault_string().find("list_packages"), std::string::npos);
}

TEST(Xmlrpc, MalformedFaultIsAnError)
{
	std::string no_string = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n"
	                        "<name>faultCode</name>\n<value><int>1</int></value>\n</member>\n</struct></value>\n"
	                        "</fault>\n</methodResponse>\n";
	EXPECT_NE(error_of(no_string).find("malformed <fault>"), std::string::npos);
	std::string not_struct = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><int>1</int></value>\n"
	                         "</fault>\n</methodResponse>\n";
	EXPECT_NE(error_of(not_struct).find("malformed <fault>"), std::string::npos);
}

TEST(Xmlrpc, MalformedResponses)
{
	const std::string ok_value = "<value><int>1</int></value>\n";
	struct Case {
		const char *what;
		std::string text;
		const char *expect; // substring of the error
	};
	std::vector<Case> cases = {
	    {"empty", "", "no element found"},
	    {"html", "<!DOCTYPE html><html><body>503</body></html>", "DOCTYPE is not allowed"},
	    {"lower-case doctype", "<!doctype html><html></html>", "syntax error"},
	    {"html without doctype", "<html><body>503</body></html>", "unknown element <html>"},
	    {"not xml", "{\"meta\":{}}", "not well-formed"},
	    {"truncated", response(ok_value).substr(0, 60), ""},
	    {"wrong root", "<params><param>" + ok_value + "</param></params>", "expected <methodResponse>, not <params>"},
	    {"a call, not a response", "<methodCall><params/></methodCall>", "unknown element <methodCall>"},
	    {"unknown type", response("<value><float>1</float></value>\n"), "unknown element <float>"},
	    {"no answer", "<methodResponse></methodResponse>", "without <params> or <fault>"},
	    {"no param", "<methodResponse><params></params></methodResponse>", "without a <param>"},
	    {"empty param", "<methodResponse><params><param></param></params></methodResponse>", "without a <value>"},
	    {"two params", "<methodResponse><params><param>" + ok_value + "</param><param>" + ok_value +
	                       "</param></params></methodResponse>",
	     "more than one <param>"},
	    {"params and fault", "<methodResponse><params><param>" + ok_value + "</param></params><fault>" + ok_value +
	                             "</fault></methodResponse>",
	     "a second <fault>"},
	    {"two types in a value", response("<value><int>1</int><int>2</int></value>"), "more than one type"},
	    {"text after a type", response("<value><int>1</int>junk</value>"), "text in <value>"},
	    {"text in a container", response("<value><array>junk<data></data></array></value>"), "text before <data>"},
	    {"bad int", response("<value><int>12a</int></value>"), "not an integer"},
	    {"empty int", response("<value><int></int></value>"), "not an integer"},
	    {"int overflow", response("<value><int>99999999999999999999</int></value>"), "not an integer"},
	    {"bad boolean", response("<value><boolean>true</boolean></value>"), "not a boolean"},
	    {"bad double", response("<value><double>one</double></value>"), "not a double"},
	    {"member without name", response("<value><struct><member><value><int>1</int></value></member>"
	                                     "</struct></value>"),
	     "<member> wants one <name> then one <value>"},
	    {"member without value", response("<value><struct><member><name>a</name></member></struct></value>"),
	     "<member> without a <name> and a <value>"},
	    {"value in struct", response("<value><struct><value><int>1</int></value></struct></value>"),
	     "unexpected <value> in <struct>"},
	    {"array without data", response("<value><array></array></value>"), "<array> without <data>"},
	    {"junk after the end", response(ok_value) + "<methodResponse/>", "junk after document element"},
	    {"undefined entity", response("<value><string>&foo;</string></value>"), "undefined entity"},
	    {"mismatched tags", response("<value><string>a</int></value>"), "mismatched tag"},
	    {"invalid utf-8", response("<value><string>\xff\xfe</string></value>"), "not well-formed"},
	};
	for (auto &c : cases) {
		SCOPED_TRACE(c.what);
		std::string err = error_of(c.text);
		ASSERT_NE(err, "") << "parsed: " << c.text;
		EXPECT_NE(err.find(c.expect), std::string::npos) << err;
	}
}

TEST(Xmlrpc, ErrorsNameLineAndColumn)
{
	std::string err = error_of(response("<value><int>x</int></value>\n"));
	EXPECT_EQ(err.rfind("line 5, column ", 0), 0u) << err;
}

TEST(Xmlrpc, BillionLaughsIsRefused)
{
	std::string bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n";
	bomb += "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n";
	for (int i = 2; i <= 9; i++) {
		std::string prev = "&lol" + std::to_string(i - 1) + ";";
		bomb += "<!ENTITY lol" + std::to_string(i) + " \"";
		for (int k = 0; k < 10; k++) bomb += prev;
		bomb += "\">\n";
	}
	bomb += "]>\n<methodResponse><params><param><value><string>&lol9;</string></value></param></params>"
	        "</methodResponse>\n";
	for (size_t chunk : {0, 1, 16}) {
		x::ResponseParser p;
		bool ok = parse(p, bomb, chunk);
		EXPECT_FALSE(ok);
		EXPECT_NE(p.error().find("DOCTYPE is not allowed"), std::string::npos) << p.error();
		// Nothing was expanded into the result.
		EXPECT_LT(p.result().s.size(), 100u);
	}
}

TEST(Xmlrpc, ExternalEntitiesAreRefused)
{
	std::string xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
	                  "<methodResponse><params><param><value><string>&x;</string></value></param></params>"
	                  "</methodResponse>";
	EXPECT_NE(error_of(xxe).find("DOCTYPE is not allowed"), std::string::npos);
	// Even an empty DOCTYPE: XML-RPC has no use for one.
	EXPECT_NE(error_of("<!DOCTYPE methodResponse><methodResponse/>").find("DOCTYPE"), std::string::npos);
}

TEST(Xmlrpc, DeepNestingIsRefused)
{
	auto nested = [](int n) {
		std::string s;
		for (int i = 0; i < n; i++) s += "<value><array><data>";
		s += "<value><int>1</int></value>";
		for (int i = 0; i < n; i++) s += "</data></array></value>";
		return response(s);
	};
	// 4 elements of envelope + 3 per level + 2 for the innermost value.
	EXPECT_EQ(error_of(nested(19)), ""); // depth 63
	std::string err = error_of(nested(20)); // depth 66
	EXPECT_NE(err.find("nested deeper than 64"), std::string::npos) << err;
	x::Limits tight;
	tight.max_depth = 12;
	EXPECT_NE(error_of(nested(3), tight).find("nested deeper than 12"), std::string::npos);
	// A very deep document is refused early, not by running out of stack.
	EXPECT_NE(error_of(nested(100000)).find("nested deeper"), std::string::npos);
}

TEST(Xmlrpc, TextAndValueSizeLimits)
{
	x::Limits l;
	l.max_text = 100;
	EXPECT_EQ(error_of(response("<value><string>" + std::string(100, 'a') + "</string></value>"), l), "");
	EXPECT_NE(error_of(response("<value><string>" + std::string(101, 'a') + "</string></value>"), l)
	              .find("text longer than 100 bytes"),
	          std::string::npos);

	// Without a sink the whole result is held, and that is capped.
	std::string many = "<value><array><data>";
	for (int i = 0; i < 200; i++) many += "<value><string>" + std::string(50, 'x') + "</string></value>";
	many += "</data></array></value>";
	x::Limits v;
	v.max_value_bytes = 4096;
	EXPECT_NE(error_of(response(many), v).find("value larger than 4096 bytes"), std::string::npos);
	// With a sink only one item is held at a time, so the same input passes.
	x::ResponseParser p(v);
	int n = 0;
	p.set_item_sink([&n](x::Value &, std::string &) {
		n++;
		return true;
	});
	ASSERT_TRUE(parse(p, response(many))) << p.error();
	EXPECT_EQ(n, 200);
}

TEST(Xmlrpc, SinkCanStopTheParse)
{
	x::ResponseParser p;
	int n = 0;
	p.set_item_sink([&n](x::Value &, std::string &why) {
		why = "enough";
		return ++n < 1;
	});
	EXPECT_FALSE(parse(p, kChangelog));
	EXPECT_NE(p.error().find("stopped: enough"), std::string::npos) << p.error();
	EXPECT_EQ(n, 1);
	// Further input is refused too.
	EXPECT_FALSE(p.feed("x", 1));
}

TEST(Xmlrpc, ResetStartsOver)
{
	x::ResponseParser p;
	std::vector<Row> rows;
	rows_of(p, rows);
	std::string text = kChangelog;
	// A retried transfer: half of one attempt, then the whole of the next.
	ASSERT_TRUE(p.feed(text.data(), text.size() / 2));
	p.reset();
	rows.clear();
	ASSERT_TRUE(parse(p, text)) << p.error();
	EXPECT_EQ(rows.size(), 2u);
	// After an error, too.
	p.reset();
	EXPECT_FALSE(parse(p, "<bogus/>"));
	p.reset();
	EXPECT_TRUE(parse(p, kFault)) << p.error();
	EXPECT_TRUE(p.is_fault());
	p.reset();
	EXPECT_TRUE(parse(p, kChangelog)) << p.error();
	EXPECT_FALSE(p.is_fault());
	EXPECT_EQ(p.fault_code(), 0);
}

TEST(Xmlrpc, MethodCallMatchesPython)
{
	// Python: xmlrpc.client.dumps((5,), 'changelog_since_serial')
	EXPECT_EQ(x::method_call("changelog_since_serial", {x::Value::make_int(5)}),
	          "<?xml version='1.0'?>\n<methodCall>\n<methodName>changelog_since_serial</methodName>\n<params>\n"
	          "<param>\n<value><int>5</int></value>\n</param>\n</params>\n</methodCall>\n");
	// Python: xmlrpc.client.dumps((), 'changelog_last_serial')
	EXPECT_EQ(x::method_call("changelog_last_serial"),
	          "<?xml version='1.0'?>\n<methodCall>\n<methodName>changelog_last_serial</methodName>\n<params>\n"
	          "</params>\n</methodCall>\n");
	x::Value arr;
	arr.type = x::Type::Array;
	arr.items.push_back(x::Value::make_string("a<b&c"));
	arr.items.push_back(x::Value());
	x::Value d;
	d.type = x::Type::Double;
	d.d = 0.1;
	arr.items.push_back(d);
	x::Value st;
	st.type = x::Type::Struct;
	st.members.emplace_back("k", x::Value::make_int(-1));
	arr.items.push_back(st);
	// Python: dumps((['a<b&c', None, 0.1, {'k': -1}],), 'm', allow_none=True)
	EXPECT_EQ(x::method_call("m", {arr}),
	          "<?xml version='1.0'?>\n<methodCall>\n<methodName>m</methodName>\n<params>\n<param>\n"
	          "<value><array><data>\n<value><string>a&lt;b&amp;c</string></value>\n<value><nil/></value>"
	          "<value><double>0.1</double></value>\n<value><struct>\n<member>\n<name>k</name>\n"
	          "<value><int>-1</int></value>\n</member>\n</struct></value>\n</data></array></value>\n"
	          "</param>\n</params>\n</methodCall>\n");
}

TEST(Xmlrpc, RoundTripThroughOwnWriter)
{
	// What method_call writes for a value, the parser reads back.
	x::Value arr;
	arr.type = x::Type::Array;
	arr.items.push_back(x::Value::make_string("x & <y>"));
	arr.items.push_back(x::Value::make_int(1LL << 40));
	std::string call = x::method_call("m", {arr});
	auto b = call.find("<param>\n") + 8;
	auto e = call.find("</param>");
	x::ResponseParser p;
	ASSERT_TRUE(parse(p, response(call.substr(b, e - b)))) << p.error();
	ASSERT_EQ(p.result().items.size(), 2u);
	EXPECT_EQ(p.result().items[0].s, "x & <y>");
	EXPECT_EQ(p.result().items[1].i, 1LL << 40);
}
