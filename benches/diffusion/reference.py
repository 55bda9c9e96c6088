"""The diffusers/PyTorch side of `benches/diffusion/run`.

`setup` builds randomly initialised models from the published configs of
SD 1.5 and SD-Turbo (SD 2.1 architecture), saves them in diffusers' layout
(so candle loads the very same weights) and writes fixed inputs with
PyTorch's outputs for the parity check. The other commands time one case
each, in a fresh process so peak memory is that case's alone, and print
one JSON line.
"""

import json
import resource
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

# A fixed prompt, as ids (CLIP's tokenizer would need the vocabulary files,
# which are not downloadable here; the Rust side tokenizes the same prompt).
PROMPT = "a calm lake at dawn, watercolor"
PROMPT_IDS = [49406, 320, 2436, 4687, 950, 6258, 267, 14211, 49407]

SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=[320, 640, 1280, 1280],
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    cross_attention_dim=768, attention_head_dim=8,
)
SD2_UNET = dict(SD15_UNET, cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20],
                use_linear_projection=True)
VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
    block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
)
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
              num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
              projection_dim=768)
CLIP_H = dict(CLIP_L, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23,
              num_attention_heads=16, hidden_act="gelu", projection_dim=512)

MODELS = {"sd-1.5": (SD15_UNET, CLIP_L), "sd-turbo": (SD2_UNET, CLIP_H)}


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ids(pad, dev="cpu"):
    return torch.tensor([PROMPT_IDS + [pad] * (77 - len(PROMPT_IDS))], device=dev)


def setup(root):
    from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    root = Path(root)
    parity = {}
    for name, (unet_cfg, clip_cfg) in MODELS.items():
        d = root / name
        if (d / "done").exists():
            continue
        unet = UNet2DConditionModel(**unet_cfg).eval()
        text = CLIPTextModel(CLIPTextConfig(**clip_cfg)).eval()
        vae = AutoencoderKL(**VAE).eval()
        taesd = AutoencoderTiny().eval()
        unet.save_pretrained(d / "unet")
        text.save_pretrained(d / "text_encoder")
        vae.save_pretrained(d / "vae")
        taesd.save_pretrained(d / "taesd")
        with torch.inference_mode():
            g = torch.Generator().manual_seed(1)
            pad = 0 if name == "sd-turbo" else 49407
            t_ids = ids(pad)
            text_out = text(t_ids).last_hidden_state
            latents = torch.randn(2, 4, 32, 32, generator=g)
            ctx = torch.randn(2, 77, unet_cfg["cross_attention_dim"], generator=g)
            unet_out = unet(latents, 500, encoder_hidden_states=ctx).sample
            vae_in = torch.randn(1, 4, 32, 32, generator=g)
            vae_out = vae.decode(vae_in / vae.config.scaling_factor).sample
            taesd_out = taesd.decode(vae_in).sample
        parity = {
            "ids": t_ids.to(torch.int64), "text_out": text_out,
            "latents": latents, "ctx": ctx, "unet_out": unet_out,
            "vae_in": vae_in, "vae_out": vae_out, "taesd_out": taesd_out,
        }
        save_file({k: v.contiguous() for k, v in parity.items()}, str(d / "parity.safetensors"))
        (d / "done").write_text("ok")


def setup_xl(root):
    """A tiny SDXL-shaped UNet (pooled-text and size conditioning, deeper
    transformer stacks) and a CLIP encoder with projection, for parity."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    d = Path(root) / "tiny-xl"
    if (d / "done").exists():
        return
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=[32, 64, 64], norm_num_groups=8,
        down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        attention_head_dim=[2, 4, 4], transformer_layers_per_block=[1, 2, 3],
        cross_attention_dim=64, use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8,
    ).eval()
    text = CLIPTextModelWithProjection(CLIPTextConfig(
        vocab_size=49408, hidden_size=48, intermediate_size=96, num_hidden_layers=3,
        num_attention_heads=4, max_position_embeddings=77, hidden_act="gelu",
        projection_dim=32)).eval()
    unet.save_pretrained(d / "unet")
    text.save_pretrained(d / "text_encoder_2")
    with torch.inference_mode():
        g = torch.Generator().manual_seed(2)
        t_ids = ids(0)
        out = text(t_ids, output_hidden_states=True)
        latents = torch.randn(2, 4, 24, 16, generator=g)
        ctx = torch.randn(2, 77, 64, generator=g)
        text_embeds = torch.randn(2, 32, generator=g)
        time_ids = torch.tensor([[192.0, 128, 0, 0, 192, 128]] * 2)
        unet_out = unet(latents, 500, encoder_hidden_states=ctx,
                        added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample
    save_file({
        "ids": t_ids.to(torch.int64), "penultimate": out.hidden_states[-2].contiguous(),
        "pooled": out.text_embeds.contiguous(), "latents": latents, "ctx": ctx,
        "text_embeds": text_embeds, "time_ids": time_ids, "unet_out": unet_out,
    }, str(d / "parity.safetensors"))
    (d / "done").write_text("ok")


def run(root, case, model, size, steps, repeat, device="cpu"):
    from diffusers import (AutoencoderKL, AutoencoderTiny, DDIMScheduler,
                           EulerAncestralDiscreteScheduler, StableDiffusionPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextModel

    d = Path(root) / model
    unet_cfg, _ = MODELS[model]
    lat = size // 8
    times = []
    # f16 on GPUs, f32 on CPUs, as the candle side.
    dtype = torch.float16 if device == "cuda" else torch.float32

    def load(cls, path):
        return cls.from_pretrained(path).to(device=device, dtype=dtype).eval()

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode():
        if case == "unet":
            unet = load(UNet2DConditionModel, d / "unet")
            batch = 2 if model == "sd-1.5" else 1
            x = torch.randn(batch, 4, lat, lat, device=device, dtype=dtype)
            ctx = torch.randn(batch, 77, unet_cfg["cross_attention_dim"], device=device, dtype=dtype)
            for _ in range(repeat):
                t0 = time.perf_counter()
                unet(x, 500, encoder_hidden_states=ctx)
                sync()
                times.append(time.perf_counter() - t0)
        elif case in ("vae", "taesd"):
            cls = AutoencoderKL if case == "vae" else AutoencoderTiny
            m = load(cls, d / case)
            z = torch.randn(1, 4, lat, lat, device=device, dtype=dtype)
            for _ in range(repeat):
                t0 = time.perf_counter()
                m.decode(z)
                sync()
                times.append(time.perf_counter() - t0)
        elif case == "pipeline":
            unet = load(UNet2DConditionModel, d / "unet")
            text = load(CLIPTextModel, d / "text_encoder")
            vae = load(AutoencoderKL, d / "vae")
            if model == "sd-turbo":
                sched = EulerAncestralDiscreteScheduler(
                    beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                    timestep_spacing="trailing")
                guidance = 0.0
            else:
                sched = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085,
                                      beta_end=0.012, clip_sample=False, set_alpha_to_one=False,
                                      steps_offset=1)
                guidance = 7.5
            pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=None, unet=unet,
                                           scheduler=sched, safety_checker=None,
                                           feature_extractor=None, requires_safety_checker=False)
            pipe.set_progress_bar_config(disable=True)
            pad = 0 if model == "sd-turbo" else 49407
            neg = torch.tensor([[49406, 49407] + [pad] * 75], device=device)
            for _ in range(repeat):
                t0 = time.perf_counter()
                # Both prompts go through the text encoder inside the timing,
                # as the Rust side encodes its prompts.
                pe = text(ids(pad, device)).last_hidden_state
                ne = text(neg).last_hidden_state if guidance > 1 else None
                pipe(prompt_embeds=pe, negative_prompt_embeds=ne, num_inference_steps=steps,
                     guidance_scale=guidance, height=size, width=size, output_type="np",
                     generator=torch.Generator(device).manual_seed(0))
                sync()
                times.append(time.perf_counter() - t0)
        else:
            raise SystemExit(f"unknown case {case}")
    peak = round(peak_mib())
    if device == "cuda":
        peak = round(torch.cuda.max_memory_allocated() / 2**20)
    print(json.dumps({"impl": "diffusers", "case": case, "model": model, "size": size,
                      "steps": steps, "seconds": min(times), "peak_mib": peak, "device": device,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "setup":
        setup(sys.argv[2])
        setup_xl(sys.argv[2])
    else:
        root, case, model, size, steps, repeat = sys.argv[2:8]
        device = sys.argv[8] if len(sys.argv) > 8 else "cpu"
        run(root, case, model, int(size), int(steps), int(repeat), device)
