"""Text to speech for a character's replies: sentence splitting, language per sentence, and the engines."""

from pipelines.speech.pipeline import SpeechChunk, SpeechOutput, SpeechPipeline, Voice

__all__ = ["SpeechChunk", "SpeechOutput", "SpeechPipeline", "Voice"]
