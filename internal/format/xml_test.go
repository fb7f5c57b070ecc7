package format

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/junctionhq/junction/internal/transform"
)

func TestXMLDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		arrays  []string
		want    string // the tree as JSON
		wantErr string
	}{
		{name: "text element", in: `<a>hi</a>`, want: `{"a":"hi"}`},
		{name: "numbers stay text", in: `<a><n>12</n><ok>true</ok></a>`, want: `{"a":{"n":"12","ok":"true"}}`},
		{name: "empty elements", in: `<a><b/><c></c></a>`, want: `{"a":{"b":"","c":""}}`},
		{name: "attributes", in: `<order id="7" status='new'><total>12.50</total></order>`,
			want: `{"order":{"@id":"7","@status":"new","total":"12.50"}}`},
		{name: "attributes and text", in: `<price currency="EUR">9.99</price>`, want: `{"price":{"#text":"9.99","@currency":"EUR"}}`},
		{name: "empty element with attribute", in: `<a x="1"/>`, want: `{"a":{"@x":"1"}}`},
		{name: "repeated children become an array", in: `<l><i>1</i><x>y</x><i>2</i><i><j>3</j></i></l>`,
			want: `{"l":{"i":["1","2",{"j":"3"}],"x":"y"}}`},
		{name: "one child stays single", in: `<l><i>1</i></l>`, want: `{"l":{"i":"1"}}`},
		{name: "Arrays forces an array", in: `<l><i>1</i><k>2</k></l>`, arrays: []string{"i"}, want: `{"l":{"i":["1"],"k":"2"}}`},
		{name: "Arrays with many", in: `<l><i>1</i><i>2</i></l>`, arrays: []string{"i"}, want: `{"l":{"i":["1","2"]}}`},
		{name: "indentation dropped", in: "<a>\n  <b>x</b>\n  <c> y </c>\n</a>\n", want: `{"a":{"b":"x","c":" y "}}`},
		{name: "mixed content", in: "<p>\n  Hello <b>you</b> there\n</p>", want: `{"p":{"#text":"Hello  there","b":"you"}}`},
		{name: "entities and CDATA", in: `<a>&lt;&amp;&gt;&quot;&apos;&#233;&#x20AC;<![CDATA[<raw & stuff>]]></a>`, want: `{"a":"<&>\"'é€<raw & stuff>"}`},
		{name: "prolog, comments, PIs and doctype dropped", in: `<?xml version="1.0"?><!DOCTYPE a><!-- c --><a><?pi x?><!-- d -->t</a><!-- e -->`, want: `{"a":"t"}`},
		{name: "prefixes kept", in: `<s:Envelope xmlns:s="urn:s" xmlns="urn:d"><s:Body a:x="1" xmlns:a="urn:a"/></s:Envelope>`,
			want: `{"s:Envelope":{"@xmlns":"urn:d","@xmlns:s":"urn:s","s:Body":{"@a:x":"1","@xmlns:a":"urn:a"}}}`},
		{name: "latin-1 declared", in: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>gr\xfc\xdfe</a>", want: `{"a":"grüße"}`},
		{name: "S3 list", in: `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>k1</Key><Size>3</Size></Contents></ListBucketResult>`,
			arrays: []string{"Contents"},
			want:   `{"ListBucketResult":{"@xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Contents":[{"Key":"k1","Size":"3"}],"IsTruncated":"false","Name":"b"}}`},

		{name: "empty", in: ``, wantErr: "invalid XML: no root element"},
		{name: "only a prolog", in: `<?xml version="1.0"?>`, wantErr: "invalid XML: no root element"},
		{name: "not closed", in: `<a><b>`, wantErr: "invalid XML: element <b> is not closed at the end of the document"},
		{name: "mismatched tags", in: "<a>\n<b></a>", wantErr: "invalid XML: element <b> closed by </a> on line 2"},
		{name: "two roots", in: `<a/><b/>`, wantErr: "invalid XML: a second root element <b> on line 1"},
		{name: "text after root", in: `<a/>x`, wantErr: "invalid XML: text outside the root element on line 1"},
		{name: "unknown entity", in: `<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>`, wantErr: "invalid XML: invalid character entity &e; on line 1"},
		{name: "unquoted attribute", in: `<a x=1/>`, wantErr: "invalid XML: unquoted or missing attribute value in element on line 1"},
		{name: "JSON is not XML", in: `{"a":1}`, wantErr: "invalid XML: text outside the root element on line 1"},
		{name: "unknown charset", in: `<?xml version="1.0" encoding="nope"?><a/>`, wantErr: `invalid XML: opening charset "nope": unsupported charset: "nope"`},
		{name: "too deep", in: strings.Repeat("<a>", maxXMLDepth+1), wantErr: "invalid XML: elements nested deeper than 10000 on line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := XML{Arrays: tt.arrays}.Decode([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Decode error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(mustTree(t, tt.want), got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestXMLEncode(t *testing.T) {
	tests := []struct {
		name    string
		in      string // the tree as JSON
		want    string // without the XML declaration
		wantErr string
	}{
		{name: "text", in: `{"a":"hi"}`, want: `<a>hi</a>`},
		{name: "scalars", in: `{"a":{"n":12.50,"t":true,"f":false,"z":null,"s":""}}`, want: `<a><f>false</f><n>12.50</n><s></s><t>true</t><z/></a>`},
		{name: "attributes first, children in name order", in: `{"o":{"total":"1","@id":7,"@b":"x","items":{"i":["1","2"]}}}`,
			want: `<o b="x" id="7"><items><i>1</i><i>2</i></items><total>1</total></o>`},
		{name: "text member", in: `{"p":{"#text":"9.99","@c":"EUR"}}`, want: `<p c="EUR">9.99</p>`},
		{name: "only attributes", in: `{"p":{"@c":"EUR"}}`, want: `<p c="EUR"/>`},
		{name: "empty object", in: `{"p":{}}`, want: `<p/>`},
		{name: "escaping", in: `{"a":{"@q":"\"<&>\n\t\r'","#text":"<&>\"'\r\n\t"}}`, want: "<a q=\"&quot;&lt;&amp;&gt;&#xA;&#x9;&#xD;'\">&lt;&amp;&gt;\"'&#xD;\n\t</a>"},
		{name: "prefixed names", in: `{"s:E":{"@xmlns:s":"urn:s","s:B":"x"}}`, want: `<s:E xmlns:s="urn:s"><s:B>x</s:B></s:E>`},
		{name: "array of objects", in: `{"l":{"i":[{"@n":"1"},null,"t"]}}`, want: `<l><i n="1"/><i/><i>t</i></l>`},

		{name: "not an object", in: `[1]`, wantErr: "XML needs one root element: the message must be an object with exactly one member, named after it"},
		{name: "two members", in: `{"a":1,"b":2}`, wantErr: "XML needs one root element: the message must be an object with exactly one member, named after it"},
		{name: "root array", in: `{"a":[1,2]}`, wantErr: `XML needs one root element: "a" is an array`},
		{name: "bad element name", in: `{"a":{"order id":1}}`, wantErr: `a.order id: "order id" is not an XML element name`},
		{name: "name starting with a digit", in: `{"1a":1}`, wantErr: `1a: "1a" is not an XML element name`},
		{name: "bad attribute name", in: `{"a":{"@":1}}`, wantErr: `a.@: "" is not an XML attribute name`},
		{name: "object attribute", in: `{"a":{"@x":{}}}`, wantErr: "a.@x: an object cannot be an attribute or text"},
		{name: "array text", in: `{"a":{"#text":[1]}}`, wantErr: "a.#text: an array cannot be an attribute or text"},
		{name: "nested arrays", in: `{"a":{"b":[[1]]}}`, wantErr: "a.b[0]: an array in an array has no XML form"},
		{name: "control character", in: `{"a":"x\u0001"}`, wantErr: "a: character U+0001 cannot be written in XML 1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := XML{}.Encode(mustTree(t, tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Encode error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if want := xmlDeclaration + tt.want + "\n"; string(got) != want {
				t.Errorf("Encode = %q, want %q", got, want)
			}
		})
	}
}

func TestXMLEncodeUnsupported(t *testing.T) {
	if _, err := (XML{}).Encode(map[string]any{"a": 1.5}); err == nil || err.Error() != "a: unsupported value of type float64" {
		t.Errorf("Encode(float64) error = %v", err)
	}
	if _, err := (XML{}).Encode(map[string]any{"a": "\xff"}); err == nil || err.Error() != "a: invalid UTF-8" {
		t.Errorf("Encode(invalid UTF-8) error = %v", err)
	}
}

// TestXMLRoundTrip: what Decode makes, Encode writes back to a document that decodes
// to the same tree.
func TestXMLRoundTrip(t *testing.T) {
	for _, doc := range []string{
		`<order id="7"><items><item sku="a">2</item><item sku="b">1</item></items><note>a &amp; b&#xD;</note><e/></order>`,
		"<p x=\"a&#xA;b\">\n text <b>bold</b>\n</p>",
		`<s:E xmlns:s="urn:s"><s:B>x</s:B></s:E>`,
	} {
		tree, err := XML{}.Decode([]byte(doc))
		if err != nil {
			t.Fatalf("Decode(%s): %v", doc, err)
		}
		out, err := XML{}.Encode(tree)
		if err != nil {
			t.Fatalf("Encode(%v): %v", tree, err)
		}
		again, err := XML{}.Decode(out)
		if err != nil {
			t.Fatalf("Decode(%s): %v", out, err)
		}
		if diff := cmp.Diff(tree, again); diff != "" {
			t.Errorf("round trip of %s through %s (-first +second):\n%s", doc, out, diff)
		}
	}
}

func TestIsXMLContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/xml": true, "text/xml; charset=utf-8": true, "application/atom+xml": true, "Application/XML": true,
		"application/json": false, "text/plain": false, "": false, "xml": false,
	} {
		if got := IsXMLContentType(ct); got != want {
			t.Errorf("IsXMLContentType(%q) = %v, want %v", ct, got, want)
		}
	}
}

// FuzzXMLDecode: Decode never panics, and whatever it decodes encodes to a document
// that decodes to the same tree.
func FuzzXMLDecode(f *testing.F) {
	for _, s := range []string{
		`<a x="1"><b>t</b><b/><c>&amp;<![CDATA[x]]></c></a>`, `<s:E xmlns:s="u">t<i/>u</s:E>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><a>` + "\xe9" + `</a>`, `<a><b></a>`, `<a/><b/>`, `<a>&e;</a>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tree, err := XML{Arrays: []string{"b"}}.Decode(in)
		if err != nil {
			return
		}
		out, err := XML{}.Encode(tree)
		if err != nil {
			// Text the reader accepted that XML 1.0 cannot write back (the reader is
			// lenient about some characters) is the only expected failure.
			if strings.Contains(err.Error(), "cannot be written in XML 1.0") || strings.Contains(err.Error(), "invalid UTF-8") {
				return
			}
			t.Fatalf("Encode(Decode(%q)): %v", in, err)
		}
		again, err := XML{Arrays: []string{"b"}}.Decode(out)
		if err != nil {
			t.Fatalf("Decode(%q) (from %q): %v", out, in, err)
		}
		if diff := cmp.Diff(tree, again); diff != "" {
			t.Fatalf("round trip of %q through %q (-first +second):\n%s", in, out, diff)
		}
	})
}

// mustTree decodes a tree written as JSON in a test.
func mustTree(t testing.TB, s string) any {
	t.Helper()
	v, err := transform.Decode([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}
