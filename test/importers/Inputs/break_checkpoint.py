#!/usr/bin/python3
"""Copies a checkpoint made by make_checkpoints.py and breaks one thing.

  break_checkpoint.py SRC DST HOW

HOW: model-type, missing-key, missing-tensor, shape, dtype (declares
bfloat16), int-dtype, fp8, mxfp4 (a float gpt-oss's gate_up_proj renamed
as MXFP4 blocks), mxfp4-config (that and a quantization_config saying
mxfp4), mxfp4-no-scales, mxfp4-scales-shape, mxfp4-blocks-dtype (of an
MXFP4 gpt-oss checkpoint), fp8-config, fp8-block, fp8-static,
fp8-no-scales, fp8-scales-shape, fp8-nan, fp8-width, fp8-router (of an
FP8 DeepSeek-V3 checkpoint of hf_transformers.py), truncated, header-length, overlap,
no-weights, index-missing, experts-per-token, hidden-act, mlp-bias,
negative-shared, huge-experts, huge-layers, huge-width, topk-method;
or a config.json edit: set:KEY=JSON (KEY may name a key of an object,
text_config.hidden_act) or del:KEY; or rename:TENSOR (in model.safetensors,
its bytes still indexed under another name).
"""
import json
import os
import shutil
import struct
import sys


def header(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write(path, hdr, payload, length=None):
    text = json.dumps(hdr).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text) if length is None else length))
        f.write(text + payload)


def main(src, dst, how):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    cfg_path = os.path.join(dst, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    st = os.path.join(dst, "model.safetensors")
    if how.startswith(("set:", "del:")):
        path, _, value = how[4:].partition("=")
        *outer, key = path.split(".")
        obj = cfg
        for k in outer:
            obj = obj[k]
        if how.startswith("del:"):
            del obj[key]
        else:
            obj[key] = json.loads(value)
    elif how.startswith("rename:"):
        hdr, payload = header(st)
        name = how[len("rename:"):]
        hdr[name + ".renamed"] = hdr.pop(name)
        write(st, hdr, payload)
    elif how == "model-type":
        cfg["model_type"] = "deepseek_v4"
    elif how == "dtype":
        cfg["torch_dtype"] = "bfloat16"
    elif how == "missing-key":
        del cfg["num_experts_per_tok"]
    elif how == "experts-per-token":
        cfg["experts_per_token"] = cfg.pop("num_experts_per_tok")
    elif how == "hidden-act":
        cfg["hidden_act"] = "gelu"
    elif how == "mlp-bias":
        cfg["mlp_bias"] = True
    elif how == "negative-shared":
        cfg["n_shared_experts"] = -1
    elif how == "huge-experts":
        for key in ("num_local_experts", "num_experts", "n_routed_experts"):
            if key in cfg:
                cfg[key] = 1 << 40
    elif how == "huge-layers":
        cfg["num_hidden_layers"] = 1 << 32
    elif how == "huge-width":
        cfg["moe_intermediate_size"] = 1 << 40
    elif how == "topk-method":
        cfg["topk_method"] = "bogus"
    elif how in ("mxfp4-no-scales", "mxfp4-scales-shape", "mxfp4-blocks-dtype"):
        hdr, payload = header(st)
        scales = sorted(k for k in hdr if k.endswith("gate_up_proj_scales"))[0]
        blocks = scales.replace("_scales", "_blocks")
        if how == "mxfp4-no-scales":
            hdr[scales + ".renamed"] = hdr.pop(scales)
        elif how == "mxfp4-scales-shape":
            # The same bytes as [E, K/32, N].
            hdr[scales]["shape"] = [hdr[scales]["shape"][i] for i in (0, 2, 1)]
        else:
            hdr[blocks]["dtype"] = "I8"
        write(st, hdr, payload)
    elif how in ("fp8-config", "fp8-block", "fp8-static"):
        q = cfg["quantization_config"]
        if how == "fp8-config":
            del cfg["quantization_config"]
        elif how == "fp8-block":
            q["weight_block_size"] = [64, 64]
        else:
            q["activation_scheme"] = "static"
    elif how in ("fp8-no-scales", "fp8-scales-shape", "fp8-nan"):
        hdr, payload = header(st)
        scales = sorted(k for k in hdr if k.endswith("down_proj.weight_scale_inv")
                        and ".experts." in k)[0]
        values = scales[:-len("_scale_inv")]
        if how == "fp8-no-scales":
            hdr[scales + ".renamed"] = hdr.pop(scales)
        elif how == "fp8-scales-shape":
            hdr[scales]["shape"] = hdr[scales]["shape"][::-1]
        else:
            # Element [1, 5] of the values: e4m3's NaN code.
            K = hdr[values]["shape"][1]
            at = hdr[values]["data_offsets"][0] + K + 5
            payload = payload[:at] + b"\x7f" + payload[at + 1:]
        write(st, hdr, payload)
    elif how in ("fp8-width", "fp8-router"):
        import torch
        from safetensors.torch import load_file, save_file
        state = load_file(st)
        if how == "fp8-width":
            # Experts of width 64: the down projections' rows are not whole
            # 128-element blocks.
            cfg["moe_intermediate_size"] = 64
            for k in list(state):
                if ".mlp.experts." not in k:
                    continue
                if "down_proj" in k:
                    state[k] = state[k][:, :64].contiguous()
                elif k.endswith("_scale_inv"):
                    state[k] = state[k][:1].contiguous()
                else:
                    state[k] = state[k][:64].contiguous()
        else:
            # The router in FP8 too.
            gate = sorted(k for k in state if k.endswith("mlp.gate.weight"))[0]
            E, H = state[gate].shape
            state[gate] = state[gate].to(torch.float8_e4m3fn)
            state[gate + "_scale_inv"] = torch.ones(1, H // 128)
        save_file(state, st, metadata={"format": "pt"})
    elif how in ("missing-tensor", "shape", "fp8", "overlap", "header-length",
                 "mxfp4", "mxfp4-config", "int-dtype"):
        hdr, payload = header(st)
        names = sorted(k for k in hdr if k != "__metadata__")
        victim = [n for n in names if "experts.3." in n or
                  n.endswith("experts.gate_up_proj")][0]
        if how == "missing-tensor":
            # Under another name: its bytes stay indexed.
            hdr[victim + ".renamed"] = hdr.pop(victim)
        elif how == "shape":
            hdr[victim]["shape"] = hdr[victim]["shape"][::-1]
        elif how == "int-dtype":
            hdr[victim]["dtype"] = "I32"
        elif how == "fp8":
            # One byte per element over the same bytes.
            info = hdr[victim]
            info["dtype"] = "F8_E4M3"
            info["shape"] = [info["data_offsets"][1] - info["data_offsets"][0]]
        elif how in ("mxfp4", "mxfp4-config"):
            hdr[victim.replace("gate_up_proj", "gate_up_proj_blocks")] = hdr.pop(victim)
            if how == "mxfp4-config":
                cfg["quantization_config"] = {"quant_method": "mxfp4"}
        elif how == "overlap":
            a, b = names[0], names[1]
            size = hdr[b]["data_offsets"][1] - hdr[b]["data_offsets"][0]
            start = hdr[a]["data_offsets"][0] + 4
            hdr[b]["data_offsets"] = [start, start + size]
        write(st, hdr, payload, (1 << 40) if how == "header-length" else None)
    elif how == "trailing-bytes":
        with open(st, "ab") as f:
            f.write(b"\0" * 16)
    elif how == "truncated":
        with open(st, "rb") as f:
            data = f.read()
        with open(st, "wb") as f:
            f.write(data[:len(data) // 2])
    elif how == "no-weights":
        for n in os.listdir(dst):
            if n.endswith(".safetensors"):
                os.remove(os.path.join(dst, n))
    elif how == "index-missing":
        idx = os.path.join(dst, "model.safetensors.index.json")
        with open(idx) as f:
            doc = json.load(f)
        doc["weight_map"]["model.layers.0.mlp.extra.weight"] = \
            sorted(set(doc["weight_map"].values()))[0]
        with open(idx, "w") as f:
            json.dump(doc, f)
    else:
        sys.exit("unknown breakage " + how)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
