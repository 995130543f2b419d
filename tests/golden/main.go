// ctygolden — the go-cty oracle for SparkFlow's value codec (provider/value*.c).
//
// Terraform encodes every value with github.com/zclconf/go-cty; this program
// uses the same library to write golden encodings that the C codec must match
// byte for byte, and to check what the C codec writes.
//
//	go run . gen [FILE]      write the golden cases (default: stdout)
//	go run . verify FILE     check a file of encodings written by the C side
//
// Golden file: one case per line, fields separated by TABs, '#' comments:
//
//	kind  name  type-json  input  expected-msgpack-hex  expected-json
//
// kind "mp": input is msgpack (hex) that go-cty accepts; decoding it and
// encoding the result must give expected-msgpack-hex.  "mp-reject": go-cty
// rejects the input, so must the C codec.  "json"/"json-reject": the same
// with a JSON input (state JSON).  expected-json is go-cty's JSON encoding
// of the value, "-" when the value is not wholly known or the case rejects.
//
// The expected encoding is go-cty's encoding of the decoded value after
// normalising its numbers to 512-bit precision (how cty parses decimal text):
// go-cty's msgpack choice between float64 and decimal string depends on the
// precision a number was built with, which the C side (decimal text) does not
// keep; both encodings decode to values cty considers equal.
//
// Verify file: "name  type-json  msgpack-hex  json" per line.  Each msgpack
// must decode under the type, the JSON (unless "-") must decode to an equal
// value, and when the name is a known case the value must equal the case's
// value and the bytes must equal go-cty's own encoding of it.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"
)

// valCase is a value built with cty; its input is go-cty's encoding of it.
type valCase struct {
	name string
	ty   cty.Type
	val  cty.Value
}

// rawCase is a hand-written input (hex for msgpack, text for JSON).
type rawCase struct {
	name   string
	ty     cty.Type
	input  string
	reject bool
}

func num(s string) cty.Value { return cty.MustParseNumberVal(s) }

func obj(m map[string]cty.Value) cty.Value { return cty.ObjectVal(m) }

func refined(ty cty.Type) *cty.RefinementBuilder { return cty.UnknownVal(ty).Refine() }

// ---- Cases ------------------------------------------------------------------

func valueCases() []valCase {
	var cs []valCase
	add := func(name string, ty cty.Type, v cty.Value) { cs = append(cs, valCase{name, ty, v}) }

	// Strings: each msgpack length form, unicode, characters JSON escapes.
	add("str_empty", cty.String, cty.StringVal(""))
	add("str_ascii", cty.String, cty.StringVal("hello"))
	add("str_unicode", cty.String, cty.StringVal("héllo wörld ✓ 日本語 🎉"))
	add("str_escapes", cty.String, cty.StringVal("q\"b\\s\n\r\t\x01<&>\u2028"))
	add("str_31", cty.String, cty.StringVal(strings.Repeat("a", 31)))
	add("str_32", cty.String, cty.StringVal(strings.Repeat("b", 32)))
	add("str_255", cty.String, cty.StringVal(strings.Repeat("c", 255)))
	add("str_256", cty.String, cty.StringVal(strings.Repeat("d", 256)))
	add("str_65536", cty.String, cty.StringVal(strings.Repeat("e", 65536)))
	add("bool_true", cty.Bool, cty.True)
	add("bool_false", cty.Bool, cty.False)

	// Numbers, as cty parses decimal text (512-bit): every msgpack int form,
	// values past int64, fractions, huge and tiny magnitudes.
	for i, s := range []string{
		"0", "1", "-1", "127", "128", "255", "256", "-32", "-33", "-128", "-129",
		"65535", "65536", "-32768", "-32769", "2147483647", "2147483648",
		"4294967295", "4294967296", "-2147483648", "-2147483649",
		"9007199254740993", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "18446744073709551615", "18446744073709551616",
		"-9223372036854775809", "123456789012345678901234567890",
		"-123456789012345678901234567890.125", "0.5", "-0.25", "1.5", "0.1",
		"3.14159", "-2.5", "0.00001", "1e100", "1e400", "-1e400", "1e-400",
		"0.000000000000000000000000000001", "1152921504606846976.5",
		"4503599627370495.5", "4503599627370496.5", "1e22", "1e23",
		"0.30000000000000004", "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
	} {
		add(fmt.Sprintf("num_%02d_%s", i, shortName(s)), cty.Number, num(s))
	}
	// Numbers as Go code builds them (float64 precision): go-cty writes
	// these as float64; the C side writes the equivalent decimal.
	for i, f := range []float64{0.1, 0.5, -2.5e-8, 1e300, 123.456, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308} {
		add(fmt.Sprintf("numf_%02d", i), cty.Number, cty.NumberFloatVal(f))
	}
	add("numu_max", cty.Number, cty.NumberUIntVal(math.MaxUint64))

	// Nulls and unknowns of every kind of type.
	listStr := cty.List(cty.String)
	objT := cty.Object(map[string]cty.Type{"a": cty.String, "b": cty.Number})
	for _, t := range []struct {
		n  string
		ty cty.Type
	}{
		{"string", cty.String}, {"number", cty.Number}, {"bool", cty.Bool},
		{"list", listStr}, {"set", cty.Set(cty.Number)}, {"map", cty.Map(cty.Bool)},
		{"object", objT}, {"tuple", cty.Tuple([]cty.Type{cty.String, cty.Bool})},
		{"dynamic", cty.DynamicPseudoType},
	} {
		add("null_"+t.n, t.ty, cty.NullVal(t.ty))
		add("unknown_"+t.n, t.ty, cty.UnknownVal(t.ty))
	}

	// Refined unknowns.
	add("refine_string_notnull", cty.String, refined(cty.String).NotNull().NewValue())
	add("refine_string_prefix", cty.String, refined(cty.String).NotNull().StringPrefixFull("https://").NewValue())
	add("refine_string_prefix_only", cty.String, refined(cty.String).StringPrefixFull("arn:aws:s3:::").NewValue())
	add("refine_string_prefix_unicode", cty.String, refined(cty.String).StringPrefixFull("日本-").NewValue())
	add("refine_number_range", cty.Number, refined(cty.Number).NotNull().
		NumberRangeLowerBound(cty.Zero, true).NumberRangeUpperBound(cty.NumberIntVal(10), false).NewValue())
	add("refine_number_lower", cty.Number, refined(cty.Number).NumberRangeLowerBound(num("-5.5"), false).NewValue())
	add("refine_number_upper_big", cty.Number, refined(cty.Number).NumberRangeUpperBound(num("1e400"), true).NewValue())
	add("refine_number_frac", cty.Number, refined(cty.Number).NotNull().
		NumberRangeLowerBound(num("0.1"), true).NumberRangeUpperBound(num("0.75"), true).NewValue())
	add("refine_number_notnull", cty.Number, refined(cty.Number).NotNull().NewValue())
	add("refine_list_len", listStr, refined(listStr).NotNull().CollectionLengthLowerBound(1).CollectionLengthUpperBound(5).NewValue())
	add("refine_list_len_lower", listStr, refined(listStr).CollectionLengthLowerBound(2).NewValue())
	add("refine_map_len_upper", cty.Map(cty.String), refined(cty.Map(cty.String)).CollectionLengthUpperBound(3).NewValue())
	add("refine_set_notnull", cty.Set(cty.String), refined(cty.Set(cty.String)).NotNull().CollectionLengthLowerBound(1).NewValue())
	add("refine_bool_notnull", cty.Bool, refined(cty.Bool).NotNull().NewValue())
	add("refine_object_notnull", objT, refined(objT).NotNull().NewValue())
	longPrefix := strings.Repeat("p", 300)
	add("refine_string_prefix_long", cty.String, refined(cty.String).StringPrefixFull(longPrefix).NewValue())

	// Dynamic values carry their type.
	dyn := cty.DynamicPseudoType
	add("dyn_string", dyn, cty.StringVal("hi"))
	add("dyn_number", dyn, num("42"))
	add("dyn_bignum", dyn, num("1e400"))
	add("dyn_bool", dyn, cty.True)
	add("dyn_null_string", dyn, cty.NullVal(cty.String))
	add("dyn_unknown_string", dyn, cty.UnknownVal(cty.String))
	add("dyn_refined_string", dyn, refined(cty.String).NotNull().StringPrefixFull("x-").NewValue())
	add("dyn_list_obj", dyn, cty.ListVal([]cty.Value{
		obj(map[string]cty.Value{"name": cty.StringVal("a"), "n": num("1")}),
		obj(map[string]cty.Value{"name": cty.StringVal("b"), "n": cty.NullVal(cty.Number)}),
	}))
	add("dyn_tuple", dyn, cty.TupleVal([]cty.Value{cty.StringVal("x"), num("2"), cty.EmptyObjectVal, cty.EmptyTupleVal}))
	add("dyn_map", dyn, cty.MapVal(map[string]cty.Value{"k": cty.StringVal("v")}))
	add("dyn_set", dyn, cty.SetVal([]cty.Value{num("3"), num("1")}))
	add("dyn_object_odd_names", dyn, obj(map[string]cty.Value{
		"a<b&c>": cty.True, "line\u2028sep": cty.False, "q\"\\/\t": cty.True, "ünï": cty.False,
	}))
	add("dyn_object_nested", dyn, obj(map[string]cty.Value{
		"inner": obj(map[string]cty.Value{"deep": cty.ListVal([]cty.Value{cty.True})}),
		"z":     cty.StringVal("last"),
	}))
	objDyn := cty.Object(map[string]cty.Type{"id": cty.String, "extra": dyn})
	add("object_with_dynamic_attr", objDyn, obj(map[string]cty.Value{
		"id": cty.StringVal("i-1"), "extra": obj(map[string]cty.Value{"k": num("1.5")}),
	}))
	add("object_with_dynamic_null", objDyn, obj(map[string]cty.Value{
		"id": cty.StringVal("i-1"), "extra": cty.NullVal(dyn),
	}))
	add("object_with_dynamic_unknown", objDyn, obj(map[string]cty.Value{
		"id": cty.UnknownVal(cty.String), "extra": cty.DynamicVal,
	}))
	add("list_dynamic", cty.List(dyn), cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}))

	// Collections.
	add("list_string", listStr, cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal(""), cty.StringVal("c")}))
	add("list_empty", listStr, cty.ListValEmpty(cty.String))
	add("list_with_null_unknown", listStr, cty.ListVal([]cty.Value{cty.NullVal(cty.String), cty.UnknownVal(cty.String), cty.StringVal("z")}))
	add("list_list_number", cty.List(cty.List(cty.Number)), cty.ListVal([]cty.Value{
		cty.ListVal([]cty.Value{num("1"), num("2.5")}), cty.ListValEmpty(cty.Number),
	}))
	long := make([]cty.Value, 20)
	for i := range long {
		long[i] = num(fmt.Sprint(i * 1000))
	}
	add("list_20_numbers", cty.List(cty.Number), cty.ListVal(long))
	add("set_string", cty.Set(cty.String), cty.SetVal([]cty.Value{
		cty.StringVal("pear"), cty.StringVal("apple"), cty.StringVal("Zoo"), cty.StringVal("ap"), cty.StringVal("é"),
	}))
	add("set_number", cty.Set(cty.Number), cty.SetVal([]cty.Value{
		num("10"), num("-3"), num("2.5"), num("1e30"), num("0"), num("-0.5"),
	}))
	add("set_bool", cty.Set(cty.Bool), cty.SetVal([]cty.Value{cty.True, cty.False}))
	add("set_empty", cty.Set(cty.String), cty.SetValEmpty(cty.String))
	add("set_with_unknowns", cty.Set(cty.String), cty.SetVal([]cty.Value{
		cty.UnknownVal(cty.String), cty.StringVal("b"), cty.UnknownVal(cty.String), cty.StringVal("a"),
	}))
	add("set_with_null", cty.Set(cty.String), cty.SetVal([]cty.Value{cty.NullVal(cty.String), cty.StringVal("b")}))
	ruleT := cty.Object(map[string]cty.Type{"port": cty.Number, "proto": cty.String, "cidrs": cty.List(cty.String)})
	add("set_object", cty.Set(ruleT), cty.SetVal([]cty.Value{
		obj(map[string]cty.Value{"port": num("443"), "proto": cty.StringVal("tcp"), "cidrs": cty.ListVal([]cty.Value{cty.StringVal("0.0.0.0/0")})}),
		obj(map[string]cty.Value{"port": num("80"), "proto": cty.StringVal("tcp"), "cidrs": cty.ListValEmpty(cty.String)}),
		obj(map[string]cty.Value{"port": num("22"), "proto": cty.StringVal("tcp"), "cidrs": cty.NullVal(cty.List(cty.String))}),
		obj(map[string]cty.Value{"port": num("1234567890123"), "proto": cty.StringVal("udp\n\"x\""), "cidrs": cty.ListValEmpty(cty.String)}),
		obj(map[string]cty.Value{"port": num("0.00001"), "proto": cty.StringVal("日本"), "cidrs": cty.ListValEmpty(cty.String)}),
		obj(map[string]cty.Value{"port": num("-7"), "proto": cty.UnknownVal(cty.String), "cidrs": cty.ListValEmpty(cty.String)}),
	}))
	add("set_list", cty.Set(cty.List(cty.String)), cty.SetVal([]cty.Value{
		cty.ListVal([]cty.Value{cty.StringVal("b")}), cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("c")}),
		cty.ListValEmpty(cty.String),
	}))
	add("set_set_number", cty.Set(cty.Set(cty.Number)), cty.SetVal([]cty.Value{
		cty.SetVal([]cty.Value{num("2"), num("1")}), cty.SetVal([]cty.Value{num("10")}),
	}))
	add("set_map", cty.Set(cty.Map(cty.Bool)), cty.SetVal([]cty.Value{
		cty.MapVal(map[string]cty.Value{"y": cty.True}), cty.MapVal(map[string]cty.Value{"x": cty.False, "a": cty.True}),
	}))
	add("set_tuple", cty.Set(cty.Tuple([]cty.Type{cty.String, cty.Number})), cty.SetVal([]cty.Value{
		cty.TupleVal([]cty.Value{cty.StringVal("b"), num("1")}), cty.TupleVal([]cty.Value{cty.StringVal("a"), num("123456.7890123")}),
	}))
	add("map_string", cty.Map(cty.String), cty.MapVal(map[string]cty.Value{
		"zeta": cty.StringVal("1"), "alpha": cty.StringVal("2"), "Beta": cty.StringVal("3"), "ünï": cty.StringVal("4"), "": cty.StringVal("empty key"),
	}))
	add("map_empty", cty.Map(cty.Number), cty.MapValEmpty(cty.Number))
	add("map_list", cty.Map(cty.List(cty.Number)), cty.MapVal(map[string]cty.Value{
		"a": cty.ListVal([]cty.Value{num("1")}), "b": cty.UnknownVal(cty.List(cty.Number)),
	}))

	// Objects and tuples.
	add("object_empty", cty.EmptyObject, cty.EmptyObjectVal)
	add("object_simple", objT, obj(map[string]cty.Value{"a": cty.StringVal("x"), "b": num("7")}))
	add("object_nulls", objT, obj(map[string]cty.Value{"a": cty.NullVal(cty.String), "b": cty.UnknownVal(cty.Number)}))
	optT := cty.ObjectWithOptionalAttrs(map[string]cty.Type{"req": cty.String, "opt": cty.Number}, []string{"opt"})
	add("object_optional_attrs", optT, obj(map[string]cty.Value{"req": cty.StringVal("r"), "opt": cty.NullVal(cty.Number)}))
	wide := map[string]cty.Value{}
	wideT := map[string]cty.Type{}
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("attr_%c%d", 'z'-i, i)
		wide[k] = num(fmt.Sprint(i))
		wideT[k] = cty.Number
	}
	add("object_20_attrs", cty.Object(wideT), obj(wide))
	add("tuple_mixed", cty.Tuple([]cty.Type{cty.String, cty.Number, cty.Bool, cty.List(cty.String)}), cty.TupleVal([]cty.Value{
		cty.StringVal("s"), num("-1.5"), cty.False, cty.ListVal([]cty.Value{cty.StringVal("x")}),
	}))
	add("tuple_empty", cty.EmptyTuple, cty.EmptyTupleVal)

	// A resource as a schema would describe it: nested blocks as list/set of objects.
	workerT := cty.Object(map[string]cty.Type{"name": cty.String, "cores": cty.Number, "labels": cty.Map(cty.String)})
	clusterT := cty.Object(map[string]cty.Type{
		"id": cty.String, "name": cty.String, "workers": cty.List(workerT), "tags": cty.Set(cty.String),
		"timeouts": cty.Object(map[string]cty.Type{"create": cty.String}), "settings": dyn, "ratio": cty.Number,
	})
	add("resource_cluster", clusterT, obj(map[string]cty.Value{
		"id":   refined(cty.String).NotNull().StringPrefixFull("cl-").NewValue(),
		"name": cty.StringVal("analytics"),
		"workers": cty.ListVal([]cty.Value{
			obj(map[string]cty.Value{"name": cty.StringVal("w1"), "cores": num("4"), "labels": cty.MapVal(map[string]cty.Value{"zone": cty.StringVal("a")})}),
			obj(map[string]cty.Value{"name": cty.StringVal("w2"), "cores": cty.UnknownVal(cty.Number), "labels": cty.NullVal(cty.Map(cty.String))}),
		}),
		"tags":     cty.SetVal([]cty.Value{cty.StringVal("prod"), cty.StringVal("etl")}),
		"timeouts": cty.NullVal(cty.Object(map[string]cty.Type{"create": cty.String})),
		"settings": obj(map[string]cty.Value{"spark.executor.memory": cty.StringVal("4g"), "retries": num("3")}),
		"ratio":    num("0.75"),
	}))
	return cs
}

// Hand-written msgpack inputs: other encodings go-cty accepts, and inputs it rejects.
func rawMsgpackCases() []rawCase {
	objT := cty.Object(map[string]cty.Type{"a": cty.String, "b": cty.Number})
	listStr := cty.List(cty.String)
	tup := cty.Tuple([]cty.Type{cty.String, cty.Bool})
	// ext 12 helper: payload is a msgpack map given in hex.
	ext12 := func(payload string) string {
		n := len(payload) / 2
		switch n {
		case 1, 2, 4, 8, 16:
			return fmt.Sprintf("%02x0c%s", map[int]int{1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}[n], payload)
		}
		if n < 256 {
			return fmt.Sprintf("c7%02x0c%s", n, payload)
		}
		return fmt.Sprintf("c8%04x0c%s", n, payload)
	}
	return []rawCase{
		{"in_num_uint8", cty.Number, "cc05", false},
		{"in_num_int64_small", cty.Number, "d3000000000000002a", false},
		{"in_num_int8_pos", cty.Number, "d005", false},
		{"in_num_uint64_big", cty.Number, "cfffffffffffffffff", false},
		{"in_num_float32", cty.Number, "ca3dcccccd", false},
		{"in_num_float64_int", cty.Number, "cb4059000000000000", false},
		{"in_num_float64_negzero", cty.Number, "cb8000000000000000", false},
		{"in_num_string_int", cty.Number, "a23132", false},
		{"in_num_string_frac", cty.Number, "a4312e3530", false},
		{"in_num_string_exp", cty.Number, "a3316533", false},
		{"in_num_string_bigexp", cty.Number, "a5312e356535", false},
		{"in_num_bin", cty.Number, "c4023432", false},
		{"in_str_str8_short", cty.String, "d90161", false},
		{"in_str_bin", cty.String, "c403616263", false},
		{"in_dyn_type_as_str", cty.DynamicPseudoType, "92a822737472696e6722a3616263", false},
		{"in_unknown_ext_other", cty.String, "d40500", false},
		{"in_unknown_ext_empty", cty.String, "c7000c", false},
		{"in_unknown_ext12_len1", cty.String, "d40c80", false},
		{"in_unknown_dynamic_refined", cty.DynamicPseudoType, ext12("8101c2"), false},
		{"in_refine_null_true", cty.String, ext12("8101c3"), false},
		{"in_refine_unknown_key", cty.String, ext12("8201c209c0"), false},
		{"in_refine_trailing", cty.String, ext12("8101c2ff"), false},
		{"in_refine_num_collapse", cty.Number, ext12("8301c2039203c3049203c3"), false},
		{"in_refine_num_equal_exclusive", cty.Number, ext12("8301c2039203c2049203c2"), false},
		{"in_refine_num_float_bound", cty.Number, ext12("8203" + "92cb3fe0000000000000c3" + "04" + "92a3312e35c2"), false},
		{"in_refine_list_len0", listStr, ext12("8301c2050006" + "00"), false},
		{"in_refine_list_len2", listStr, ext12("8301c2050206" + "02"), false},
		{"in_refine_set_len1", cty.Set(cty.Number), ext12("8301c2050106" + "01"), false},
		{"in_refine_map_len0", cty.Map(cty.Number), ext12("8301c2050006" + "00"), false},
		{"in_refine_len_no_notnull", listStr, ext12("8205020602"), false},
		{"in_refine_len_lower0", listStr, ext12("820500" + "0603"), false},
		{"in_refine_len_int16", listStr, ext12("8105cd0100"), false},
		{"in_object_zero_len_map", cty.EmptyObject, "80", false},
		{"in_map_dup_key", cty.Map(cty.String), "82a161a178a161a179", false},
		{"in_set_dups", cty.Set(cty.String), "93a162a161a162", false},
		{"in_set_num_dups", cty.Set(cty.Number), "9301cb3ff0000000000000a3312e30", false},
		{"in_object_unsorted", objT, "82a162cd0100a161a178", false},

		{"rej_bool_for_string", cty.String, "c3", true},
		{"rej_string_for_bool", cty.Bool, "a474727565", true},
		{"rej_int_for_bool", cty.Bool, "01", true},
		{"rej_bool_for_number", cty.Number, "c2", true},
		{"rej_badnum_string", cty.Number, "a3616263", true},
		{"rej_num_string_space", cty.Number, "a3203132", true},
		{"rej_array_for_map", cty.Map(cty.String), "91a161", true},
		{"rej_map_for_list", listStr, "81a161a162", true},
		{"rej_string_for_list", listStr, "a161", true},
		{"rej_tuple_short", tup, "91a161", true},
		{"rej_tuple_long", tup, "93a161c3c3", true},
		{"rej_object_extra_attr", objT, "82a161a178a163a179", true},
		{"rej_object_nonstring_key", objT, "8201a178a161a179", true},
		{"rej_object_attr_wrong_type", objT, "82a161c3a16201", true},
		{"rej_truncated_array", listStr, "92a161", true},
		{"rej_truncated_string", cty.String, "a5616263", true},
		{"rej_truncated_int", cty.Number, "cd01", true},
		{"rej_empty", cty.String, "", true},
		{"rej_ext_nonrefine_type", cty.String, "d60300000000", true},
		{"rej_ext12_not_map", cty.String, "d50c9100", true},
		{"rej_ext12_oversize", cty.String, "c90000040d0c" + "8102da03ff" + strings.Repeat("61", 0x3ff) + "00", true},
		{"rej_refine_prefix_for_number", cty.Number, ext12("8102a161"), true},
		{"rej_refine_bounds_for_string", cty.String, ext12("81039201c3"), true},
		{"rej_refine_len_for_string", cty.String, ext12("810501"), true},
		{"rej_refine_prefix_not_string", cty.String, ext12("810201"), true},
		{"rej_refine_prefix_bad_utf8", cty.String, ext12("8102a2c328"), true},
		{"rej_refine_nullness_not_bool", cty.String, ext12("810101"), true},
		{"rej_refine_bound_not_tuple", cty.Number, ext12("810301"), true},
		{"rej_refine_bound_null", cty.Number, ext12("810392c0c3"), true},
		{"rej_refine_key_not_int", cty.String, ext12("81a161c3"), true},
		{"rej_dyn_not_array", cty.DynamicPseudoType, "a161", true},
		{"rej_dyn_three", cty.DynamicPseudoType, "93c40822737472696e6722a161c0", true},
		{"rej_dyn_bad_type", cty.DynamicPseudoType, "92c4065b226f6f7073a161", true},
		{"rej_dyn_unknown_type_name", cty.DynamicPseudoType, "92c406226e6f706522a161", true},
		{"rej_dyn_value_mismatch", cty.DynamicPseudoType, "92c408226e756d62657222a161", true},
	}
}

func rawJSONCases() []rawCase {
	objT := cty.Object(map[string]cty.Type{"a": cty.String, "b": cty.Number, "c": cty.List(cty.Bool)})
	dyn := cty.DynamicPseudoType
	return []rawCase{
		{"json_bignum", cty.Number, "123456789012345678901234567890.5", false},
		{"json_exp", cty.Number, "1.5E+3", false},
		{"json_huge", cty.Number, "1e400", false},
		{"json_tiny", cty.Number, "-2.5e-30", false},
		{"json_num_string", cty.Number, `"17"`, false},
		{"json_bool_string", cty.Bool, `"true"`, false},
		{"json_string_from_number", cty.String, "1.50", false},
		{"json_string_from_bool", cty.String, "false", false},
		{"json_string_escapes", cty.String, `"a\u00e9\ud83c\udf89\n\"\\\/"`, false},
		{"json_object_missing_attrs", objT, `{"a":"x"}`, false},
		{"json_object_full", objT, ` { "c" : [ true , false ] , "b" : 0.1 , "a" : null } `, false},
		{"json_list_numbers", cty.List(cty.Number), "[1, 2.0, 3e2, -0, 1e-2]", false},
		{"json_set_dups", cty.Set(cty.Number), "[1, 1.0, 2]", false},
		{"json_map", cty.Map(cty.Number), `{"b":1,"a":2}`, false},
		{"json_tuple", cty.Tuple([]cty.Type{cty.String, cty.Number}), `["x", 99999999999999999999]`, false},
		{"json_dynamic", dyn, `{"value":{"k":[1,2]},"type":["object",{"k":["list","number"]}]}`, false},
		{"json_dynamic_type_first", dyn, `{"type":"string","value":"v"}`, false},
		{"json_dynamic_null", dyn, "null", false},
		{"json_dynamic_null_value", dyn, `{"value":null,"type":"string"}`, false},
		{"json_null_object", objT, "null", false},
		{"json_empty_object_type", cty.EmptyObject, "{}", false},

		{"jrej_extra_attr", objT, `{"a":"x","zz":1}`, true},
		{"jrej_string_for_number", cty.Number, `"abc"`, true},
		{"jrej_bool_for_number", cty.Number, "true", true},
		{"jrej_number_for_bool", cty.Bool, "1", true},
		{"jrej_object_for_list", cty.List(cty.Number), `{"a":1}`, true},
		{"jrej_dynamic_no_type", dyn, `{"value":1}`, true},
		{"jrej_dynamic_extra_key", dyn, `{"value":1,"type":"number","x":1}`, true},
		{"jrej_truncated", objT, `{"a":"x"`, true},
	}
}

// Values the C test builds with its own constructors and writes for verify;
// they are not in the golden file.
func cBuiltCases() []valCase {
	objT := cty.Object(map[string]cty.Type{"name": cty.String, "size": cty.Number, "tags": cty.Set(cty.String)})
	return []valCase{
		{"c_int", cty.Number, num("-42")},
		{"c_int64_min", cty.Number, num("-9223372036854775808")},
		{"c_double_tenth", cty.Number, num("0.1")},
		{"c_double_half", cty.Number, num("0.5")},
		{"c_double_big", cty.Number, num("1e300")},
		{"c_text_1e400", cty.Number, num("1e400")},
		{"c_text_frac", cty.Number, num("-0.000125")},
		{"c_set_unsorted", cty.Set(cty.String), cty.SetVal([]cty.Value{cty.StringVal("c"), cty.StringVal("a"), cty.StringVal("b")})},
		{"c_set_objects", cty.Set(objT), cty.SetVal([]cty.Value{
			obj(map[string]cty.Value{"name": cty.StringVal("b"), "size": num("2"), "tags": cty.SetValEmpty(cty.String)}),
			obj(map[string]cty.Value{"name": cty.StringVal("a"), "size": num("10"), "tags": cty.SetVal([]cty.Value{cty.StringVal("y"), cty.StringVal("x")})}),
		})},
		{"c_object_partial", objT, obj(map[string]cty.Value{"name": cty.StringVal("only"), "size": cty.NullVal(cty.Number), "tags": cty.NullVal(cty.Set(cty.String))})},
		{"c_refined", cty.String, refined(cty.String).NotNull().StringPrefixFull("sf-").NewValue()},
		{"c_refined_number", cty.Number, refined(cty.Number).NotNull().NumberRangeLowerBound(num("1"), true).NumberRangeUpperBound(num("2.5"), false).NewValue()},
		{"c_refined_list", cty.List(cty.String), refined(cty.List(cty.String)).CollectionLengthLowerBound(3).NewValue()},
		{"c_dyn_implied", cty.DynamicPseudoType, obj(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.TupleVal([]cty.Value{num("1"), cty.True})})},
		{"c_unicode", cty.String, cty.StringVal("ça va? 🎉")},
	}
}

func shortName(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%s_%dchars", strings.Map(safeRune, s[:8]), len(s))
	}
	return strings.Map(safeRune, s)
}

func safeRune(r rune) rune {
	switch {
	case r >= '0' && r <= '9', r >= 'a' && r <= 'z':
		return r
	case r == '-':
		return 'm'
	case r == '.':
		return 'p'
	case r == '+':
		return 'P'
	}
	return '_'
}

// ---- Normalising numbers ----------------------------------------------------

// normalize rebuilds every number as cty parses its decimal text (512 bits),
// including the bounds of refined unknown numbers.
func normalize(v cty.Value) cty.Value {
	out, err := cty.Transform(v, func(_ cty.Path, v cty.Value) (cty.Value, error) {
		if v.Type() != cty.Number {
			return v, nil
		}
		if v.IsNull() {
			return v, nil
		}
		if !v.IsKnown() {
			return normalizeUnknownNumber(v), nil
		}
		return reparse(v), nil
	})
	if err != nil {
		panic(err)
	}
	return out
}

func reparse(v cty.Value) cty.Value {
	return cty.MustParseNumberVal(v.AsBigFloat().Text('f', -1))
}

func normalizeUnknownNumber(v cty.Value) cty.Value {
	rng := v.Range()
	b := cty.UnknownVal(cty.Number).Refine()
	if rng.DefinitelyNotNull() {
		b = b.NotNull()
	}
	if lo, inc := rng.NumberLowerBound(); lo.IsKnown() && lo != cty.NegativeInfinity {
		b = b.NumberRangeLowerBound(reparse(lo), inc)
	}
	if hi, inc := rng.NumberUpperBound(); hi.IsKnown() && hi != cty.PositiveInfinity {
		b = b.NumberRangeUpperBound(reparse(hi), inc)
	}
	return b.NewValue()
}

// ---- gen ----------------------------------------------------------------------

func typeJSON(ty cty.Type) string {
	b, err := ctyjson.MarshalType(ty)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func jsonOf(v cty.Value, ty cty.Type) string {
	if !v.IsWhollyKnown() {
		return "-"
	}
	b, err := ctyjson.Marshal(v, ty)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func mustMarshal(v cty.Value, ty cty.Type) []byte {
	b, err := ctymsgpack.Marshal(v, ty)
	if err != nil {
		panic(err)
	}
	return b
}

func gen(w *bufio.Writer) {
	fmt.Fprintln(w, "# Golden encodings from github.com/zclconf/go-cty (see tests/golden/main.go).")
	fmt.Fprintln(w, "# Regenerate: cd tests/golden && go run . gen cty_golden.txt")
	fmt.Fprintln(w, "# kind\tname\ttype\tinput\texpected-msgpack-hex\texpected-json")
	line := func(kind, name string, ty cty.Type, in, out, js string) {
		for _, f := range []string{kind, name, in, out, js} {
			if strings.ContainsAny(f, "\t\n") {
				panic("field with TAB or newline in " + name)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", kind, name, typeJSON(ty), in, out, js)
	}
	seen := map[string]bool{}
	unique := func(name string) {
		if seen[name] {
			panic("duplicate case " + name)
		}
		seen[name] = true
	}
	for _, c := range valueCases() {
		unique(c.name)
		in := mustMarshal(c.val, c.ty)
		back, err := ctymsgpack.Unmarshal(in, c.ty)
		if err != nil {
			panic(fmt.Sprintf("%s: %s", c.name, err))
		}
		n := normalize(back)
		line("mp", c.name, c.ty, hex.EncodeToString(in), hex.EncodeToString(mustMarshal(n, c.ty)), jsonOf(n, c.ty))
	}
	for _, c := range rawMsgpackCases() {
		unique(c.name)
		in, err := hex.DecodeString(c.input)
		if err != nil {
			panic(c.name)
		}
		v, err := ctymsgpack.Unmarshal(in, c.ty)
		if c.reject {
			if err == nil {
				panic(fmt.Sprintf("%s: go-cty accepted %#v", c.name, v))
			}
			line("mp-reject", c.name, c.ty, c.input, "-", "-")
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("%s: %s", c.name, err))
		}
		n := normalize(v)
		line("mp", c.name, c.ty, c.input, hex.EncodeToString(mustMarshal(n, c.ty)), jsonOf(n, c.ty))
	}
	for _, c := range rawJSONCases() {
		unique(c.name)
		v, err := ctyjson.Unmarshal([]byte(c.input), c.ty)
		if c.reject {
			if err == nil {
				panic(fmt.Sprintf("%s: go-cty accepted %#v", c.name, v))
			}
			line("json-reject", c.name, c.ty, c.input, "-", "-")
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("%s: %s", c.name, err))
		}
		n := normalize(v)
		line("json", c.name, c.ty, c.input, hex.EncodeToString(mustMarshal(n, c.ty)), jsonOf(n, c.ty))
	}
}

// ---- verify -------------------------------------------------------------------

// expected returns the value a case name stands for, if it is a known case.
func expected() map[string]valCase {
	// A value as go-cty itself has it after the wire: its msgpack encoding
	// decoded again (long string prefixes are truncated on the way).
	wire := func(c valCase) valCase {
		v, err := ctymsgpack.Unmarshal(mustMarshal(c.val, c.ty), c.ty)
		if err != nil {
			panic(err)
		}
		return valCase{c.name, c.ty, v}
	}
	m := map[string]valCase{}
	for _, c := range valueCases() {
		m[c.name] = wire(c)
	}
	for _, c := range cBuiltCases() {
		m[c.name] = wire(c)
	}
	for _, c := range rawMsgpackCases() {
		if c.reject {
			continue
		}
		in, _ := hex.DecodeString(c.input)
		v, err := ctymsgpack.Unmarshal(in, c.ty)
		if err != nil {
			panic(err)
		}
		m[c.name] = valCase{c.name, c.ty, v}
	}
	for _, c := range rawJSONCases() {
		if c.reject {
			continue
		}
		v, err := ctyjson.Unmarshal([]byte(c.input), c.ty)
		if err != nil {
			panic(err)
		}
		m[c.name] = valCase{c.name, c.ty, v}
	}
	return m
}

func verifyLine(cases map[string]valCase, line string) error {
	f := strings.Split(line, "\t")
	if len(f) != 4 {
		return fmt.Errorf("want 4 TAB-separated fields, got %d", len(f))
	}
	name, tyJSON, mpHex, js := f[0], f[1], f[2], f[3]
	ty, err := ctyjson.UnmarshalType([]byte(tyJSON))
	if err != nil {
		return fmt.Errorf("type %s: %s", tyJSON, err)
	}
	mp, err := hex.DecodeString(mpHex)
	if err != nil {
		return fmt.Errorf("hex: %s", err)
	}
	got, err := ctymsgpack.Unmarshal(mp, ty)
	if err != nil {
		return fmt.Errorf("go-cty cannot decode the C msgpack: %s", err)
	}
	got = normalize(got)
	if js != "-" {
		jv, err := ctyjson.Unmarshal([]byte(js), ty)
		if err != nil {
			return fmt.Errorf("go-cty cannot decode the C JSON %s: %s", js, err)
		}
		if !normalize(jv).RawEquals(got) {
			return fmt.Errorf("C JSON %s decodes to %#v, C msgpack to %#v", js, jv, got)
		}
	}
	c, ok := cases[name]
	if !ok {
		return fmt.Errorf("unknown case name")
	}
	if !ty.Equals(c.ty) {
		return fmt.Errorf("type %s, case has %s", tyJSON, typeJSON(c.ty))
	}
	want := normalize(c.val)
	if !want.RawEquals(got) {
		return fmt.Errorf("C value %#v, want %#v", got, want)
	}
	if wantMp := mustMarshal(want, ty); string(wantMp) != string(mp) {
		return fmt.Errorf("C msgpack %x, go-cty writes %x", mp, wantMp)
	}
	return nil
}

func verify(path string) int {
	fh, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer fh.Close()
	cases := expected()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n, bad := 0, 0
	seen := map[string]bool{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		n++
		name := strings.SplitN(line, "\t", 2)[0]
		seen[name] = true
		if err := verifyLine(cases, line); err != nil {
			bad++
			fmt.Printf("FAIL %s: %s\n", name, err)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var missing []string
	for _, c := range cBuiltCases() {
		if !seen[c.name] {
			missing = append(missing, c.name)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		bad++
		fmt.Printf("FAIL %s: not in the file\n", m)
	}
	fmt.Printf("verified %d encodings, %d failed\n", n, bad)
	if bad > 0 || n == 0 {
		return 1
	}
	return 0
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "gen" {
		out := os.Stdout
		if len(os.Args) == 3 {
			f, err := os.Create(os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			defer f.Close()
			out = f
		}
		w := bufio.NewWriter(out)
		gen(w)
		if err := w.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "verify" {
		os.Exit(verify(os.Args[2]))
	}
	fmt.Fprintln(os.Stderr, "usage: ctygolden gen [FILE] | ctygolden verify FILE")
	os.Exit(2)
}
