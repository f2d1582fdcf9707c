//===- StorageDType.cpp - element types as the runtime stores them --------===//
#include "dialect/StorageDType.h"
#include "dialect/MoEDialect.h"

using namespace mlir;

std::optional<::moe::DType> mlir::moe::storageDType(Type t) {
  if (t.isF32())
    return ::moe::DType::F32;
  if (t.isBF16())
    return ::moe::DType::BF16;
  if (t.isF16())
    return ::moe::DType::F16;
  if (auto q = dyn_cast<QuantizedType>(t)) {
    switch (q.getFormat()) {
    case QuantFormat::q8_0:
      return ::moe::DType::Q8_0;
    case QuantFormat::q4_0:
      return ::moe::DType::Q4_0;
    case QuantFormat::q4_k:
      return ::moe::DType::Q4_K;
    case QuantFormat::q6_k:
      return ::moe::DType::Q6_K;
    case QuantFormat::mxfp4:
      return ::moe::DType::MXFP4;
    case QuantFormat::u8z:
      return ::moe::DType::U8Z;
    case QuantFormat::u4z:
      return ::moe::DType::U4Z;
    case QuantFormat::fp8_e4m3:
      return ::moe::DType::FP8_E4M3;
    case QuantFormat::u8z128:
      return ::moe::DType::U8Z128;
    case QuantFormat::u4z128:
      return ::moe::DType::U4Z128;
    case QuantFormat::u2z:
      return ::moe::DType::U2Z;
    case QuantFormat::u2z128:
      return ::moe::DType::U2Z128;
    case QuantFormat::u8z16:
      return ::moe::DType::U8Z16;
    case QuantFormat::u4z16:
      return ::moe::DType::U4Z16;
    case QuantFormat::u2z16:
      return ::moe::DType::U2Z16;
    case QuantFormat::q4_1:
      return ::moe::DType::Q4_1;
    case QuantFormat::q5_0:
      return ::moe::DType::Q5_0;
    case QuantFormat::q5_1:
      return ::moe::DType::Q5_1;
    case QuantFormat::q5_k:
      return ::moe::DType::Q5_K;
    case QuantFormat::q2_k:
      return ::moe::DType::Q2_K;
    case QuantFormat::q3_k:
      return ::moe::DType::Q3_K;
    case QuantFormat::iq4_nl:
      return ::moe::DType::IQ4_NL;
    case QuantFormat::iq4_xs:
      return ::moe::DType::IQ4_XS;
    case QuantFormat::iq2_xxs:
      return ::moe::DType::IQ2_XXS;
    case QuantFormat::iq2_xs:
      return ::moe::DType::IQ2_XS;
    case QuantFormat::iq2_s:
      return ::moe::DType::IQ2_S;
    case QuantFormat::iq3_xxs:
      return ::moe::DType::IQ3_XXS;
    case QuantFormat::iq3_s:
      return ::moe::DType::IQ3_S;
    case QuantFormat::iq1_s:
      return ::moe::DType::IQ1_S;
    case QuantFormat::iq1_m:
      return ::moe::DType::IQ1_M;
    }
  }
  return std::nullopt;
}

std::optional<std::string> mlir::moe::storageDTypeName(Type t) {
  if (std::optional<::moe::DType> d = storageDType(t))
    return std::string(::moe::dtypeName(*d));
  return std::nullopt;
}

Type mlir::moe::storageElementType(MLIRContext *ctx, ::moe::DType t) {
  switch (t) {
  case ::moe::DType::F32:
    return Float32Type::get(ctx);
  case ::moe::DType::BF16:
    return BFloat16Type::get(ctx);
  case ::moe::DType::F16:
    return Float16Type::get(ctx);
  case ::moe::DType::Q8_0:
    return QuantizedType::get(ctx, QuantFormat::q8_0);
  case ::moe::DType::Q4_0:
    return QuantizedType::get(ctx, QuantFormat::q4_0);
  case ::moe::DType::Q4_K:
    return QuantizedType::get(ctx, QuantFormat::q4_k);
  case ::moe::DType::Q6_K:
    return QuantizedType::get(ctx, QuantFormat::q6_k);
  case ::moe::DType::MXFP4:
    return QuantizedType::get(ctx, QuantFormat::mxfp4);
  case ::moe::DType::U8Z:
    return QuantizedType::get(ctx, QuantFormat::u8z);
  case ::moe::DType::U4Z:
    return QuantizedType::get(ctx, QuantFormat::u4z);
  case ::moe::DType::FP8_E4M3:
    return QuantizedType::get(ctx, QuantFormat::fp8_e4m3);
  case ::moe::DType::U8Z128:
    return QuantizedType::get(ctx, QuantFormat::u8z128);
  case ::moe::DType::U4Z128:
    return QuantizedType::get(ctx, QuantFormat::u4z128);
  case ::moe::DType::U2Z:
    return QuantizedType::get(ctx, QuantFormat::u2z);
  case ::moe::DType::U2Z128:
    return QuantizedType::get(ctx, QuantFormat::u2z128);
  case ::moe::DType::U8Z16:
    return QuantizedType::get(ctx, QuantFormat::u8z16);
  case ::moe::DType::U4Z16:
    return QuantizedType::get(ctx, QuantFormat::u4z16);
  case ::moe::DType::U2Z16:
    return QuantizedType::get(ctx, QuantFormat::u2z16);
  case ::moe::DType::Q4_1:
    return QuantizedType::get(ctx, QuantFormat::q4_1);
  case ::moe::DType::Q5_0:
    return QuantizedType::get(ctx, QuantFormat::q5_0);
  case ::moe::DType::Q5_1:
    return QuantizedType::get(ctx, QuantFormat::q5_1);
  case ::moe::DType::Q5_K:
    return QuantizedType::get(ctx, QuantFormat::q5_k);
  case ::moe::DType::Q2_K:
    return QuantizedType::get(ctx, QuantFormat::q2_k);
  case ::moe::DType::Q3_K:
    return QuantizedType::get(ctx, QuantFormat::q3_k);
  case ::moe::DType::IQ4_NL:
    return QuantizedType::get(ctx, QuantFormat::iq4_nl);
  case ::moe::DType::IQ4_XS:
    return QuantizedType::get(ctx, QuantFormat::iq4_xs);
  case ::moe::DType::IQ2_XXS:
    return QuantizedType::get(ctx, QuantFormat::iq2_xxs);
  case ::moe::DType::IQ2_XS:
    return QuantizedType::get(ctx, QuantFormat::iq2_xs);
  case ::moe::DType::IQ2_S:
    return QuantizedType::get(ctx, QuantFormat::iq2_s);
  case ::moe::DType::IQ3_XXS:
    return QuantizedType::get(ctx, QuantFormat::iq3_xxs);
  case ::moe::DType::IQ3_S:
    return QuantizedType::get(ctx, QuantFormat::iq3_s);
  case ::moe::DType::IQ1_S:
    return QuantizedType::get(ctx, QuantFormat::iq1_s);
  case ::moe::DType::IQ1_M:
    return QuantizedType::get(ctx, QuantFormat::iq1_m);
  }
  return nullptr;
}
