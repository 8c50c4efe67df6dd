"""About / Teach: what the studio does, how each part works, and whose work it stands on."""

from __future__ import annotations

import gradio as gr

from studio.i18n import t

TEXT = {
    "en": {
        "about.tab": "About / Teach",
        "about.body": (
            "### Character Studio\n"
            "Turn one photo, one video and a persona into a living virtual character.\n\n"
            "- **Face**: MediaPipe finds 478 face landmarks; the target expression moves them; the regions that "
            "must change are masked; a **SimMIM** masked-image model paints them back in, steered by the new "
            "landmarks.\n"
            "- **Motion**: MediaPipe Pose reads 33 body landmarks per video frame; we fill gaps, smooth jitter and "
            "retarget onto a skeleton with fixed bone lengths; out come BVH clips for Blender and a browser preview.\n"
            "- **Chat**: a Character Card V2 persona talks through a local or remote language model; each reply's "
            "emotion picks the face, and the character speaks it aloud.\n\n"
            "#### For teachers: masked image modelling in two lines\n"
            "Hide some patches of a picture and train a network to paint them back from the patches it can still see. "
            "To do it well the network must learn what faces look like, which is what lets it draw a new smile.\n\n"
            "#### Credits\n"
            "MediaPipe models © Google, Apache-2.0. Example faces: Face Research Lab London Set (DeBruine & Jones 2017), "
            "CC BY 4.0. Example videos: Sports2D and Pose2Sim demos, BSD-3-Clause. See the README for the full list."
        ),
    },
    "zh": {
        "about.tab": "关于 / 教学",
        "about.body": (
            "### 角色工作室\n"
            "用一张照片、一段视频和一个人设，做出一个会动、会说话的虚拟角色。\n\n"
            "- **面部**：MediaPipe 找到 478 个面部关键点；目标表情移动这些点；需要改变的区域被遮住，"
            "再由 **SimMIM** 掩码图像模型按新的关键点把它们画回来。\n"
            "- **动作**：MediaPipe Pose 逐帧读取 33 个身体关键点；补齐缺失、平滑抖动，再重定向到骨长固定的骨架上；"
            "输出可导入 Blender 的 BVH 动作和可在浏览器播放的预览。\n"
            "- **对话**：Character Card V2 人设通过本地或远程语言模型对话；每句回复的情绪决定角色的表情，并由角色的声音读出。\n\n"
            "#### 给老师：两句话讲清掩码图像建模\n"
            "把图片的一部分小块遮住，训练网络根据还看得见的小块把它们画回来。"
            "要画得好，网络必须学会人脸长什么样——这正是它能画出新笑容的原因。\n\n"
            "#### 致谢\n"
            "MediaPipe 模型 © Google，Apache-2.0。示例人脸：Face Research Lab London Set（DeBruine & Jones 2017），"
            "CC BY 4.0。示例视频：Sports2D 与 Pose2Sim 演示，BSD-3-Clause。完整列表见 README。"
        ),
    },
}


def render() -> None:
    gr.Markdown(t("about.body"))
