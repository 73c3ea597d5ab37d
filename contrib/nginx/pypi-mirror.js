// njs functions for pypi-mirror-njs.conf: PEP 691 content negotiation as
// PyPI does it, and the normalised form of a project name (PEP 503).
// Written for the njs of Debian 12's libnginx-mod-http-js (0.7.9): "var",
// no "let"/"const".

// The three forms of a Simple API page, in PyPI's order of preference on a
// tie (Warehouse hands this list to WebOb's acceptable_offers), with the
// file index-write writes for each.
var OFFERS = [
    { type: 'text/html', file: 'index.html' },
    { type: 'application/vnd.pypi.simple.v1+html', file: 'index.v1_html' },
    { type: 'application/vnd.pypi.simple.v1+json', file: 'index.v1_json' }
];

// "latest" is an alias of v1 (PEP 691), in Accept and in ?format= alike.
function canonical(type) {
    return type.replace(/^application\/vnd\.pypi\.simple\.latest\+/, 'application/vnd.pypi.simple.v1+');
}

// RFC 9110 section 12.5.1: the media ranges of an Accept header, each with
// its weight. A range with parameters other than q matches none of the
// offers (they have none); a q that is not a number counts as 0.
function ranges(accept) {
    var out = [];
    var parts = accept.split(',');
    for (var i = 0; i < parts.length; i++) {
        var bits = parts[i].split(';');
        var type = canonical(bits[0].trim().toLowerCase());
        var slash = type.indexOf('/');
        if (slash <= 0 || slash === type.length - 1 || type.indexOf('/', slash + 1) !== -1) {
            continue;
        }
        var q = 1, params = false;
        for (var j = 1; j < bits.length; j++) {
            var kv = bits[j].split('=');
            var key = kv[0].trim().toLowerCase();
            if (key === 'q' && kv.length === 2) {
                q = Number(kv[1].trim());
                if (!(q >= 0)) {
                    q = 0;
                }
                if (q > 1) {
                    q = 1;
                }
                // Parameters after q are accept-ext, not media type ones.
                break;
            }
            if (key !== '') {
                params = true;
            }
        }
        out.push({ type: type.substring(0, slash), sub: type.substring(slash + 1), q: q, params: params });
    }
    return out;
}

// The weight ACCEPT gives OFFER: that of the most specific range matching
// it (type/subtype over type/* over */*), 0 if none does.
function weight(rs, offer) {
    var slash = offer.indexOf('/');
    var type = offer.substring(0, slash), sub = offer.substring(slash + 1);
    var best = -1, q = 0;
    for (var i = 0; i < rs.length; i++) {
        var r = rs[i], spec;
        if (r.type === type && r.sub === sub) {
            spec = r.params ? -1 : 2;
        } else if (r.type === type && r.sub === '*') {
            spec = 1;
        } else if (r.type === '*' && r.sub === '*') {
            spec = 0;
        } else {
            continue;
        }
        if (spec > best) {
            best = spec;
            q = r.q;
        }
    }
    return q;
}

// The offer for an Accept header: the highest weight wins, a tie goes to
// the earlier offer, and with no header, or none acceptable, text/html (as
// on PyPI, which never answers 406).
function negotiate(accept) {
    if (!accept || !accept.trim()) {
        return OFFERS[0];
    }
    var rs = ranges(accept);
    var best = OFFERS[0], bestq = 0;
    for (var i = 0; i < OFFERS.length; i++) {
        var q = weight(rs, OFFERS[i].type);
        if (q > bestq) {
            best = OFFERS[i];
            bestq = q;
        }
    }
    return best;
}

// ?format= overrides the Accept header; an unknown value is ignored, as on
// PyPI. Query strings encode "+" as itself, %2B or (forms) a space.
function chosen(r) {
    var raw = r.variables.arg_format;
    if (raw) {
        var value;
        try {
            value = decodeURIComponent(raw);
        } catch (e) {
            value = raw;
        }
        value = canonical(value.replace(/ /g, '+').trim().toLowerCase());
        for (var i = 0; i < OFFERS.length; i++) {
            if (OFFERS[i].type === value) {
                return OFFERS[i];
            }
        }
    }
    return negotiate(r.headersIn.Accept);
}

// js_set $pypi_mirror_index: the file to serve.
function index(r) {
    return chosen(r).file;
}

// js_set $pypi_mirror_type: the media type served (and asked upstream).
function type(r) {
    return chosen(r).type;
}

// js_set $pypi_mirror_normalized: PEP 503's normalised form of the project
// name in $pypi_mirror_project, or the name itself when it is not a valid
// project name at all (PEP 508), which then finds no page: a miss.
function normalized(r) {
    var name = r.variables.pypi_mirror_project || '';
    if (!/^[A-Za-z0-9._-]+$/.test(name)) {
        return name;
    }
    return name.replace(/[-_.]+/g, '-').toLowerCase();
}

export default { index: index, type: type, normalized: normalized, negotiate: negotiate };
