"""The compute behind Character Studio, free of any UI: one package per task, each exposing its pipeline class.

`pipelines.face.FaceExpressionPipeline`, `pipelines.motion.MotionCapturePipeline`,
`pipelines.chat.PersonaChatPipeline`, `pipelines.speech.SpeechPipeline`, and `pipelines.character` for cards and
bundles. Shared pieces sit beside them: `labels`, `errors` (InputError), `weights`, `device`, `image_io`.
Heavy libraries (torch, mediapipe, transformers) are imported inside the functions that need them, so importing
a package stays cheap.
"""
