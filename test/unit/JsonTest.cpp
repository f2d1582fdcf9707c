//===- JsonTest.cpp - the JSON parser and the layer-config schema ---------===//

#include "runtime/support/Json.h"
#include "runtime/reference/ConfigJson.h"
#include "test/unit/Check.h"

#include <cmath>

using namespace moe;

namespace {

/// The error of parsing `text` ("" when it parses).
std::string parseError(std::string_view text) {
  json::Value v;
  return json::parse(text, v);
}

} // namespace

TEST(jsonValidDocuments) {
  json::Value v;
  CHECK_EQ(json::parse(R"( {"a": [1, -2.5e3, true, false, null],
    "b": {"c": "x\"y\\z\/\n\t\u00e9\ud83d\ude00"}, "n": 0, "big": 9007199254740993} )",
                       v),
           std::string());
  CHECK(v.isObject());
  CHECK_EQ(v.members().size(), size_t(4));
  const json::Value *a = v.getArray("a");
  CHECK(a != nullptr);
  if (a) {
    CHECK_EQ(a->elements().size(), size_t(5));
    CHECK_EQ(a->elements()[0].asNumber(), 1.0);
    CHECK_EQ(a->elements()[1].asNumber(), -2500.0);
    CHECK(a->elements()[2].isBool() && a->elements()[2].asBool());
    CHECK(a->elements()[4].isNull());
  }
  const json::Value *b = v.getObject("b");
  CHECK(b != nullptr);
  if (b && b->getString("c"))
    // \u00e9 is é (C3 A9), the surrogate pair U+1F600 (F0 9F 98 80).
    CHECK_EQ(*b->getString("c"),
             std::string("x\"y\\z/\n\t\xC3\xA9\xF0\x9F\x98\x80"));
  // Integers stay exact beyond 2^53, where a double would round.
  CHECK(v.get("big")->asInt64() == int64_t(9007199254740993));
  CHECK(v.get("n")->asInt64() == int64_t(0));

  // Typed lookups: nullptr when missing or of another type.
  CHECK(v.getNumber("a") == nullptr);
  CHECK(v.getString("missing") == nullptr);
  CHECK(v.getObject("a") == nullptr);
  CHECK(a && a->get("x") == nullptr); // not an object
  CHECK(*v.getNumber("n") == 0.0);

  CHECK_EQ(json::parse("[]", v), std::string());
  CHECK(v.isArray() && v.elements().empty());
  CHECK_EQ(json::parse("\"\"", v), std::string());
  CHECK(v.isString() && v.asString().empty());
  CHECK_EQ(json::parse("1e-400", v), std::string()); // underflows to 0
  CHECK_EQ(v.asNumber(), 0.0);
  CHECK_EQ(json::parse("0.1", v), std::string());
  CHECK_EQ(v.asNumber(), 0.1);
  CHECK(!v.asInt64());
  CHECK_EQ(json::parse("2.0", v), std::string());
  CHECK(v.asInt64() == int64_t(2));
  // UTF-8 passes through unchanged.
  CHECK_EQ(json::parse("\"\xE2\x82\xAC\"", v), std::string());
  CHECK_EQ(v.asString(), std::string("\xE2\x82\xAC"));
}

TEST(jsonErrorsCarryOffsets) {
  CHECK_EQ(parseError(R"({"a" 1})"), std::string("at offset 5: expected ':'"));
  CHECK_EQ(parseError("[1, 2,]"), std::string("at offset 6: expected a value"));
  CHECK_EQ(parseError("{\"a\": 1,}"),
           std::string("at offset 8: expected a string key"));
  CHECK_EQ(parseError(""),
           std::string("at offset 0: expected a value, got end of input"));
  CHECK_EQ(parseError("[1 2]"),
           std::string("at offset 3: expected ',' or ']'"));
  CHECK_EQ(parseError("{\"a\": 1"),
           std::string("at offset 7: expected ',' or '}', got end of input"));
  CHECK_EQ(parseError("01"),
           std::string("at offset 0: leading zero in number"));
  CHECK_EQ(parseError("1."),
           std::string("at offset 2: expected a digit after '.'"));
  CHECK_EQ(parseError("-"), std::string("at offset 1: expected a digit"));
  CHECK_EQ(parseError("1e999"),
           std::string("at offset 0: number out of range"));
  CHECK_EQ(parseError("NaN"), std::string("at offset 0: expected a value"));
  CHECK_EQ(parseError("tru"), std::string("at offset 0: invalid literal"));
  CHECK_EQ(parseError("1 2"),
           std::string("at offset 2: unexpected data after the document"));
  CHECK_EQ(parseError("\"abc"),
           std::string("at offset 0: unterminated string"));
  CHECK_EQ(parseError("\"a\nb\""),
           std::string("at offset 2: control character in string"));
  CHECK_EQ(parseError("\"\\x\""),
           std::string("at offset 1: invalid escape '\\x'"));
  CHECK_EQ(parseError("\"\\u12G4\""),
           std::string("at offset 5: invalid hex digit in \\u escape"));
  CHECK_EQ(parseError("\"\\ud83d\""),
           std::string("at offset 1: unpaired high surrogate in \\u escape"));
  CHECK_EQ(parseError("\"\\ude00\""),
           std::string("at offset 1: unpaired low surrogate in \\u escape"));
  CHECK_EQ(parseError("\"\xC0\xAF\""),
           std::string("at offset 1: invalid UTF-8 in string")); // overlong
  CHECK_EQ(parseError("{\"k\": 1, \"k\": 2}"),
           std::string("at offset 9: duplicate key 'k'"));
  CHECK_EQ(parseError("// c\n1"), std::string("at offset 0: expected a value"));

  // Nesting is bounded: 128 levels parse, 129 do not.
  std::string ok = std::string(128, '[') + std::string(128, ']');
  std::string deep = std::string(129, '[') + std::string(129, ']');
  CHECK_EQ(parseError(ok), std::string());
  CHECK_EQ(parseError(deep),
           std::string("at offset 128: nesting deeper than 128"));
  json::Value v = json::Value::integer(5);
  json::ParseOptions shallow;
  shallow.maxDepth = 2;
  CHECK_CONTAINS(json::parse("[[[1]]]", v, shallow), "nesting deeper than 2");
  CHECK(v.isNull()); // a failed parse leaves null behind
}

TEST(jsonWriteRoundTrips) {
  json::Value doc = json::Value::object();
  doc.set("s", json::Value::string("a\"b\\c\n\x01"));
  doc.set("x", json::Value::number(0.1));
  doc.set("i", json::Value::integer(-7));
  json::Value &arr = doc.set("a", json::Value::array());
  arr.push(json::Value::boolean(true));
  arr.push(json::Value::null());
  arr.push(json::Value::number(1e300));
  CHECK_EQ(json::write(doc),
           std::string(R"({"s": "a\"b\\c\n\u0001", "x": 0.1, "i": -7, )"
                       R"("a": [true, null, 1e+300]})"));
  CHECK_EQ(json::write(json::Value::number(NAN)), std::string("null"));
  json::Value back;
  CHECK_EQ(json::parse(json::write(doc, 2), back), std::string());
  CHECK_EQ(json::write(back), json::write(doc));
  CHECK_EQ(json::write(json::Value::array(), 2), std::string("[]"));
}

TEST(configParsesWithDefaults) {
  ref::LayerConfig c;
  CHECK_EQ(ref::parseConfig(R"({"routing": {"k": 2},
                                "activation": {"kind": "gelu_tanh"}})",
                            c),
           std::string());
  CHECK_EQ(c.routing.k, int64_t(2));
  CHECK(c.routing.scoring == ref::Scoring::Softmax);
  CHECK(c.routing.order == ref::ScoreOrder::ScoreThenTopK);
  CHECK(!c.routing.renormalize);
  CHECK_EQ(c.routing.scalingFactor, 1.0);
  CHECK_EQ(c.routing.numGroups, int64_t(1));
  CHECK(c.activation.kind == ref::ActivationKind::GeluTanh);
  CHECK(!c.activation.limit);
  CHECK(c.gateUpLayout == ref::GateUpLayout::Interleaved);

  // DeepSeek-V3-style routing and a gpt-oss-style activation.
  CHECK_EQ(ref::parseConfig(R"({"routing": {"scoring": "sigmoid",
      "order": "score_then_topk", "k": 8, "renormalize": true,
      "scale": 2.5, "n_group": 8, "topk_group": 4,
      "group_score": "top2_sum"},
    "activation": {"kind": "swiglu", "alpha": 1.702, "beta": 1.0,
                   "limit": 7.0},
    "gate_up_layout": "concatenated"})",
                            c),
           std::string());
  CHECK(c.routing.scoring == ref::Scoring::Sigmoid);
  CHECK_EQ(c.routing.k, int64_t(8));
  CHECK(c.routing.renormalize);
  CHECK_EQ(c.routing.scalingFactor, 2.5);
  CHECK_EQ(c.routing.numGroups, int64_t(8));
  CHECK_EQ(c.routing.topkGroups, int64_t(4));
  CHECK(c.routing.groupScore == ref::GroupScore::Top2Sum);
  CHECK_EQ(c.activation.alpha, 1.702);
  CHECK_EQ(c.activation.beta, 1.0);
  CHECK(c.activation.limit && *c.activation.limit == 7.0);
  CHECK(c.gateUpLayout == ref::GateUpLayout::Concatenated);
  CHECK_EQ(c.routing.renormEpsilon, 0.0);

  // LFM2-MoE's renormalization, written back only where set.
  ref::LayerConfig lfm;
  CHECK_EQ(ref::parseConfig(R"({"routing": {"k": 4, "scoring": "sigmoid",
      "renormalize": true, "renorm_epsilon": 1e-6},
    "activation": {"kind": "swiglu"}})",
                            lfm),
           std::string());
  CHECK_EQ(lfm.routing.renormEpsilon, 1e-6);
  CHECK_CONTAINS(json::write(ref::configToJsonValue(lfm)),
                 "\"renorm_epsilon\"");
  lfm.routing.renormEpsilon = 0.0;
  CHECK(json::write(ref::configToJsonValue(lfm)).find("renorm_epsilon") ==
        std::string::npos);

  // Phi-3.5-MoE's sparsemixer and its distance, which round-trip.
  ref::LayerConfig phi;
  CHECK_EQ(ref::parseConfig(R"({"routing": {"k": 2, "order": "sparsemixer",
      "sparsemixer_eps": 0.2}, "activation": {"kind": "swiglu"}})",
                            phi),
           std::string());
  CHECK(phi.routing.order == ref::ScoreOrder::SparseMixer);
  CHECK_EQ(phi.routing.sparsemixerEps, 0.2);
  ref::LayerConfig phiBack;
  CHECK_EQ(ref::parseConfig(ref::configToJson(phi), phiBack), std::string());
  CHECK(phiBack.routing.order == ref::ScoreOrder::SparseMixer);
  CHECK_EQ(phiBack.routing.sparsemixerEps, 0.2);

  // Llama-4's weights on the inputs round-trip; the default is not written.
  ref::LayerConfig llama4;
  CHECK_EQ(ref::parseConfig(R"({"routing": {"k": 1, "scale_inputs": true},
      "activation": {"kind": "swiglu"}})",
                            llama4),
           std::string());
  CHECK(llama4.routing.scaleInputs);
  ref::LayerConfig llama4Back;
  CHECK_EQ(ref::parseConfig(ref::configToJson(llama4), llama4Back),
           std::string());
  CHECK(llama4Back.routing.scaleInputs);
  CHECK(ref::configToJson(phi).find("scale_inputs") == std::string::npos);

  // The inverse reads back to the same config, field for field.
  ref::LayerConfig back;
  std::string text = ref::configToJson(c, 1);
  CHECK_EQ(ref::parseConfig(text, back), std::string());
  CHECK_EQ(ref::configToJson(back), ref::configToJson(c));
  CHECK_CONTAINS(ref::configToJson(c), R"("group_score": "top2_sum")");
  CHECK_CONTAINS(ref::configToJson(c), R"("limit": 7)");
  c.activation.limit.reset();
  CHECK(ref::configToJson(c).find("limit") == std::string::npos);
  CHECK_EQ(ref::parseConfig(ref::configToJson(c), back), std::string());
  CHECK(!back.activation.limit);
}

TEST(configErrors) {
  auto err = [](std::string_view text) {
    ref::LayerConfig c;
    return ref::parseConfig(text, c);
  };
  const char *act = R"("activation": {"kind": "relu"})";
  CHECK_EQ(err(std::string(R"({"routing": {"k": 2, "foo": 1}, )") + act + "}"),
           std::string("unknown key 'foo' in routing"));
  CHECK_EQ(err(std::string(R"({"routing": {"k": 2.5}, )") + act + "}"),
           std::string("routing.k: expected an integer, got 2.5"));
  CHECK_EQ(err(std::string(R"({"routing": {"k": "2"}, )") + act + "}"),
           std::string("routing.k: expected an integer, got the string '2'"));
  CHECK_EQ(err(std::string(R"({"routing": {}, )") + act + "}"),
           std::string("missing required key 'k' in routing"));
  CHECK_EQ(err(std::string(R"({"routing": {"k": 1, "renormalize": 1}, )") +
               act + "}"),
           std::string("routing.renormalize: expected true or false, got 1"));
  CHECK_EQ(err(std::string(R"({"routing": {"k": 1, "scoring": "tanh"}, )") +
               act + "}"),
           std::string("routing.scoring: unknown value 'tanh' (expected one of "
                       "'softmax', 'sigmoid')"));
  CHECK_EQ(err(R"({"routing": {"k": 1}, "activation": {"kind": "swish"}})"),
           std::string("activation.kind: unknown value 'swish' (expected one "
                       "of 'swiglu', 'geglu', 'relu', 'gelu', 'gelu_tanh', "
                       "'silu', 'identity', 'relu2')"));
  CHECK_EQ(err(R"({"routing": {"k": 1}, "activation": {"alpha": 1}})"),
           std::string("missing required key 'kind' in activation"));
  CHECK_EQ(err(R"({"routing": {"k": 1}, "activation": {"kind": "swiglu",
                   "limit": "7"}})"),
           std::string("activation.limit: expected a number, got the string "
                       "'7'"));
  CHECK_EQ(
      err(std::string(R"({"routing": {"k": 1}, "extra": 0, )") + act + "}"),
      std::string("unknown key 'extra' in the config"));
  CHECK_EQ(err(R"({"routing": {"k": 1}})"),
           std::string("missing required key 'activation' in the config"));
  CHECK_EQ(err(std::string(R"({"routing": [1], )") + act + "}"),
           std::string("routing: expected an object, got an array"));
  CHECK_EQ(err(std::string(R"({"routing": {"k": 1}, "gate_up_layout": 0, )") +
               act + "}"),
           std::string("gate_up_layout: expected one of 'interleaved', "
                       "'concatenated', got 0"));
  CHECK_EQ(err("[]"),
           std::string("the config must be a JSON object, got an array"));
  CHECK_EQ(err(R"({"routing" {"k": 1}})"),
           std::string("at offset 11: expected ':'"));
  // A null limit means no clamp.
  ref::LayerConfig c;
  c.activation.limit = 3.0;
  CHECK_EQ(ref::parseConfig(R"({"routing": {"k": 1}, "activation":
                               {"kind": "swiglu", "limit": null}})",
                            c),
           std::string());
  CHECK(!c.activation.limit);
}
