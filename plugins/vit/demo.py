"""The vit tab of 'apps demo': the browser's webcam streamed through the model with the top-k overlay and
the attention heat map, and image upload. Frames arrive as RGB numpy arrays from the browser."""

from __future__ import annotations


def annotate(app, image_rgb, attention: bool):
    """RGB image in -> (annotated RGB image, {label: score}) using the live loop's own drawing."""
    import cv2
    import numpy as np

    from core import draw_heatmap, draw_top_k
    from plugins.vit.live import NOTHING

    if image_rgb is None:
        return None, {}
    if not hasattr(app, "classifier"):
        app.load()
    classifier = app.classifier
    frame = cv2.cvtColor(np.ascontiguousarray(image_rgb[..., :3]), cv2.COLOR_RGB2BGR)
    want_attention = attention and classifier.supports_attention
    probs, heat = classifier.classify(classifier.preprocess(frame)[None], want_attention)
    top = [
        {**t, "label": NOTHING if t["label"] == "none" else t["label"]} for t in classifier.top_k(probs, 5)[0]
    ]
    if heat is not None:
        draw_heatmap(frame, heat[0], classifier.crop_pct)
    draw_top_k(frame, top)
    app.emit({"top": top}, source="demo")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), {t["label"]: t["score"] for t in top}


def build_tab(app) -> None:
    import gradio as gr

    from core import friendly

    def reset():
        app.__dict__.pop("classifier", None)

    handler = friendly(app.name, lambda image, attention: annotate(app, image, attention), reset=reset)
    attention = gr.Checkbox(value=True, label="show what the Transformer looks at (attention rollout)")
    with gr.Tab("camera"):
        with gr.Row():
            webcam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="camera")
            live = gr.Image(label="what the model sees", elem_id="vit-live")
        live_labels = gr.Label(num_top_classes=5, label="top 5")
        webcam.stream(
            handler, [webcam, attention], [live, live_labels], stream_every=0.2, concurrency_limit=1
        )
    with gr.Tab("upload"):
        with gr.Row():
            upload = gr.Image(sources=["upload"], type="numpy", label="image", elem_id="vit-upload")
            shown = gr.Image(label="result", elem_id="vit-result")
        labels = gr.Label(num_top_classes=5, label="top 5", elem_id="vit-labels")
        upload.change(handler, [upload, attention], [shown, labels], api_name="classify")
