// Package format converts messages between their bytes on the wire and the trees the
// flow engine, mappings and `returns` work on (map[string]any, []any, string, bool, nil
// and json.Number, see package transform). A Codec does one format both ways: JSON (the
// default), XML, Avro (with a schema, or a Confluent schema registry, whose writer
// schemas a schema given too reads by Avro's schema resolution) and Protocol Buffers
// (with a descriptor set and a message name).
//
// # XML
//
// XML has no types and orders its children; a tree has types and unordered members. XML
// maps onto trees the way xmltodict and most XML-to-JSON bridges do, so a mapping reads
// an XML answer as it would read the same data in JSON:
//
//   - The document is an object with one member, named after the root element:
//     <order id="7"><total>12</total></order> is {"order": {"@id": "7", "total": "12"}}.
//   - An element holding only text is that text, a string: XML values are never
//     numbers or booleans (expressions convert them: int(total) >= 1000). An element
//     with nothing in it (<a/>, <a></a>) is "".
//   - Attributes are members named "@" + the attribute name, with string values.
//   - Child elements are members named after them. A name that occurs more than once
//     among an element's children becomes an array of their values, in document order;
//     one occurrence stays a single value. Names listed in XML.Arrays are arrays even
//     when they occur once (S3's <Contents>), so "$.x.Contents[*]" works for one result
//     as well as for many.
//   - The text of an element that also has attributes or children is the member
//     "#text" (text around children joined, white space at its ends trimmed; white space
//     between children alone is indentation and dropped).
//   - Names are kept as written, prefixes included ("soap:Envelope"), and namespace
//     declarations are attributes like any other ("@xmlns", "@xmlns:soap"); prefixes are
//     not resolved. Comments, processing instructions and the DOCTYPE are dropped.
//
// Lost in the mapping: the order of children with different names, where text sits
// between children, and the difference between <a/> and <a></a>. Encoding is the
// inverse: the tree must be an object with one member (the root element); "@" members
// become attributes, "#text" text, arrays repeated elements, nil an empty element,
// numbers and booleans their text; attributes and children are written in name order.
//
// Decoding only accepts well-formed documents: the five predefined entities and
// character references, no other entity (so no entity expansion attacks), UTF-8 or an
// encoding declared in the prolog that golang.org/x/net/html/charset knows.
package format
