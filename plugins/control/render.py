"""Pictures of the environments (RGB arrays drawn with OpenCV, no pygame needed) and where they go:
a window, an .mp4 (imageio when installed, else OpenCV's VideoWriter) or a .gif (Pillow)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from core import AppsError

WHITE, BLACK = (255, 255, 255), (20, 20, 20)
WALL, TRAIL, PATH = (60, 60, 70), (190, 215, 245), (255, 140, 0)
AGENT, GOAL = (30, 90, 220), (40, 170, 60)


def _cv2():
    import cv2

    return cv2


def draw_maze(maze, cell: int = 24) -> np.ndarray:
    """The maze, the agent's trail, the planned (shortest) path from the agent to the goal, agent and goal.
    With ``mapping`` the cells the agent has not seen yet are shaded: the plan runs on what it knows."""
    cv2 = _cv2()
    rows, cols = maze.grid.shape
    image = np.full((rows * cell, cols * cell, 3), 255, np.uint8)
    for r, c in np.argwhere(maze.grid == 1):
        image[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = WALL
    if maze.mapping:
        unseen = np.kron(~maze.seen, np.ones((cell, cell), bool))
        image[unseen] = image[unseen] // 2 + 80
    for r, c in maze.trail:
        cv2.rectangle(
            image, (c * cell + 3, r * cell + 3), ((c + 1) * cell - 4, (r + 1) * cell - 4), TRAIL, -1
        )
    gr, gc = maze.goal
    cv2.rectangle(image, (gc * cell + 2, gr * cell + 2), ((gc + 1) * cell - 3, (gr + 1) * cell - 3), GOAL, -1)
    plan = maze.plan() or []
    points = np.array([[c * cell + cell // 2, r * cell + cell // 2] for r, c in plan], np.int32)
    if len(points) > 1:
        cv2.polylines(image, [points], False, PATH, 2, cv2.LINE_AA)
    ar, ac = maze.agent
    cv2.circle(image, (ac * cell + cell // 2, ar * cell + cell // 2), cell // 2 - 3, AGENT, -1, cv2.LINE_AA)
    return image


def _canvas(width=480, height=320):
    return np.full((height, width, 3), 255, np.uint8)


def draw_cartpole(env) -> np.ndarray:
    cv2 = _cv2()
    image = _canvas()
    x, _, theta, _ = (float(v) for v in env.state)
    scale = 480 / (2 * env.x_threshold * 1.2)
    base_y, cart_x = 230, int(240 + x * scale)
    cv2.line(image, (0, base_y + 15), (480, base_y + 15), BLACK, 1)
    cv2.rectangle(image, (cart_x - 30, base_y - 15), (cart_x + 30, base_y + 15), BLACK, -1)
    length = scale * 2 * env.length
    tip = (int(cart_x + length * math.sin(theta)), int(base_y - length * math.cos(theta)))
    cv2.line(image, (cart_x, base_y), tip, (200, 140, 80), 8, cv2.LINE_AA)
    cv2.circle(image, (cart_x, base_y), 5, (120, 120, 220), -1)
    return image


def draw_pendulum(env) -> np.ndarray:
    cv2 = _cv2()
    image = _canvas(320, 320)
    theta = float(env.state[0])
    centre = (160, 160)
    tip = (int(160 + 110 * math.sin(theta)), int(160 - 110 * math.cos(theta)))
    cv2.line(image, centre, tip, (200, 80, 80), 14, cv2.LINE_AA)
    cv2.circle(image, centre, 6, BLACK, -1)
    torque = getattr(env, "last_u", None)
    if torque is not None:
        cv2.putText(image, f"torque {float(torque):+.2f}", (10, 300), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BLACK, 1)
    return image


def draw_acrobot(env) -> np.ndarray:
    cv2 = _cv2()
    image = _canvas(320, 320)
    t1, t2 = float(env.state[0]), float(env.state[1])
    scale, origin = 70, np.array([160.0, 160.0])
    p1 = origin + scale * np.array([math.sin(t1), math.cos(t1)])
    p2 = p1 + scale * np.array([math.sin(t1 + t2), math.cos(t1 + t2)])
    cv2.line(image, (0, int(160 - scale)), (320, int(160 - scale)), BLACK, 1)  # the bar to clear
    for a, b in ((origin, p1), (p1, p2)):
        cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), (0, 160, 160), 8, cv2.LINE_AA)
    for p in (origin, p1):
        cv2.circle(image, tuple(int(v) for v in p), 5, BLACK, -1)
    return image


DRAWERS = {
    "MazeEnv": draw_maze,
    "CartPoleEnv": draw_cartpole,
    "PendulumEnv": draw_pendulum,
    "AcrobotEnv": draw_acrobot,
}


def frame(env, caption: str = "") -> np.ndarray:
    """An RGB picture of ``env`` now (third-party environments: their own ``render()``)."""
    base = env.unwrapped
    drawer = DRAWERS.get(type(base).__name__)
    image = drawer(base) if drawer else env.render()
    if image is None:
        raise AppsError("this environment draws no pictures", hint="create it with render_mode='rgb_array'")
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if caption:
        _cv2().putText(image, caption, (6, 16), _cv2().FONT_HERSHEY_SIMPLEX, 0.45, (200, 0, 0), 1)
    return image


class FrameSink:
    """``window`` shows frames live; a path ending in .mp4 or .gif records them."""

    def __init__(self, target: str, fps: float = 30):
        self.target, self.fps = target, fps
        self.frames: list[np.ndarray] = []
        self.writer = None
        suffix = Path(target).suffix.lower()
        if target == "window":
            self.kind = "window"
        elif suffix in (".mp4", ".gif"):
            self.kind = suffix[1:]
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        else:
            raise AppsError(f"--render {target!r} is not understood", hint="use window, FILE.mp4 or FILE.gif")

    def write(self, image: np.ndarray) -> None:
        if self.kind == "window":
            cv2 = _cv2()
            try:
                cv2.imshow("apps control", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                cv2.waitKey(max(1, int(1000 / self.fps)))
            except cv2.error:
                raise AppsError(
                    "this OpenCV build cannot open windows (headless, or no display)",
                    hint="record instead: --render out.mp4 or --render out.gif",
                ) from None
        elif self.kind == "gif":
            self.frames.append(image)
        else:
            self._write_mp4(image)

    def _write_mp4(self, image):
        if self.writer is None:
            try:
                import imageio.v2 as imageio

                # named: without imageio-ffmpeg, imageio would pick a TIFF writer for an .mp4
                self.writer = imageio.get_writer(self.target, format="FFMPEG", fps=self.fps)
            except Exception:  # imageio or its ffmpeg plugin missing: OpenCV's writer
                cv2 = _cv2()
                height, width = image.shape[:2]
                self.writer = cv2.VideoWriter(
                    self.target, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height)
                )
                if not self.writer.isOpened():
                    raise AppsError(
                        f"cannot write video {self.target}", hint="try --render out.gif"
                    ) from None
        if hasattr(self.writer, "append_data"):
            self.writer.append_data(image)
        else:
            self.writer.write(_cv2().cvtColor(image, _cv2().COLOR_RGB2BGR))

    def close(self) -> None:
        if self.kind == "gif" and self.frames:
            from PIL import Image

            pictures = [Image.fromarray(f) for f in self.frames]
            pictures[0].save(
                self.target,
                save_all=True,
                append_images=pictures[1:],
                duration=max(20, int(1000 / self.fps)),
                loop=0,
                optimize=False,
            )
        elif self.kind == "mp4" and self.writer is not None:
            if hasattr(self.writer, "append_data"):
                self.writer.close()
            else:
                self.writer.release()
        elif self.kind == "window":
            try:
                _cv2().destroyAllWindows()
            except Exception:  # headless builds have no windows to close
                pass
