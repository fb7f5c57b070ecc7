// Package memory has in-process connectors for tests and benchmarks of the flow engine:
// a source fed by Put that counts acknowledgements and redelivers what is handed back,
// and a sink that records (or just counts) what it accepts, and can be made to fail.
// They are not offered in configurations: tests register them under a type name.
package memory
