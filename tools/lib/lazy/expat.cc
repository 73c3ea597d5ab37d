// libexpat at its first use (see lazy.h): the functions tools/lib calls
// (the object store's XML answers; the XML-RPC client is not linked here).
#include <expat.h>

#include "lazy.h"

namespace {

void *expat()
{
	// libexpat 2.x has kept soname 1 since 2.0 (2007).
	static void *h = pm::lazy::open("libexpat.so.1");
	return h;
}

} // namespace

extern "C" {

PM_LAZY_FORWARD(expat, XML_Parser, XML_ParserCreateNS, (const XML_Char *encoding, XML_Char sep), (encoding, sep))
PM_LAZY_FORWARD(expat, void, XML_ParserFree, (XML_Parser p), (p))
PM_LAZY_FORWARD(expat, void, XML_SetUserData, (XML_Parser p, void *data), (p, data))
PM_LAZY_FORWARD(expat, void, XML_SetElementHandler, (XML_Parser p, XML_StartElementHandler s, XML_EndElementHandler e),
                (p, s, e))
PM_LAZY_FORWARD(expat, void, XML_SetCharacterDataHandler, (XML_Parser p, XML_CharacterDataHandler h), (p, h))
PM_LAZY_FORWARD(expat, enum XML_Status, XML_Parse, (XML_Parser p, const char *s, int len, int final),
                (p, s, len, final))
PM_LAZY_FORWARD(expat, enum XML_Error, XML_GetErrorCode, (XML_Parser p), (p))
PM_LAZY_FORWARD(expat, const XML_LChar *, XML_ErrorString, (enum XML_Error code), (code))
PM_LAZY_FORWARD(expat, XML_Size, XML_GetCurrentLineNumber, (XML_Parser p), (p))

} // extern "C"
