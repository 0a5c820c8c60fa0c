"""The control tab of 'apps demo': pick an environment, run one episode with the trained policy (or the
scripted expert), watch it as an animation with its return. Arm tasks take a typed instruction."""

from __future__ import annotations


def run_episode(
    app, env_id: str, agent: str, seed: int, max_steps: int, instruction: str = ""
) -> tuple[str, dict]:
    """(GIF path, episode result) through the same live loop as 'apps run control'. ``instruction``
    (arm tasks): what the policy is told; empty: the task's own instruction."""
    from core import scratch_path
    from plugins.control.tasks import INSTRUCTIONS, task_of

    said = (instruction or "").strip() or None
    if said is not None and task_of(env_id) not in INSTRUCTIONS:
        said = None  # only the arm reads instructions

    out = scratch_path(".gif")
    rows = app.run(  # without a built default policy: the "run 'apps prepare control'" error
        env_id=env_id,
        expert=agent == "expert",
        seed=int(seed),
        render=str(out),
        max_steps=int(max_steps),
        say=said,
        fps=15,
        as_json=True,
    )
    return str(out), rows[0]


def build_tab(app) -> None:
    import gradio as gr

    from core import friendly
    from plugins.control.envs import known_envs

    envs = sorted(known_envs())
    with gr.Row():
        env = gr.Dropdown(
            envs,
            value="Maze-map-v0" if "Maze-map-v0" in envs else envs[0],
            label="environment",
            elem_id="control-env",
        )
        agent = gr.Radio(["trained policy", "expert"], value="trained policy", label="agent")
    with gr.Row():
        seed = gr.Number(value=2_000_000, precision=0, label="seed (a new maze / start per seed)")
        max_steps = gr.Slider(20, 500, value=200, step=10, label="max steps")
    instruction = gr.Textbox(
        label='instruction (arm tasks, e.g. "pull the drawer open"; empty: the task\'s own)',
        elem_id="control-say",
    )
    button = gr.Button("Run an episode", variant="primary", elem_id="control-run")
    video = gr.Image(label="episode", type="filepath", elem_id="control-video")
    result = gr.JSON(label="result (return, success, path length)", elem_id="control-result")
    button.click(
        friendly(app.name, lambda *a: run_episode(app, *a)),
        [env, agent, seed, max_steps, instruction],
        [video, result],
        api_name="episode",
    )
