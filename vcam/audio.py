"""A video's sound, carried into the annotated file: copied packet for packet when the output
container holds its codec (no quality lost, no time spent), re-encoded when it does not (e.g.
PCM into .mp4 becomes AAC, AAC into .webm becomes Opus)."""

from __future__ import annotations

from fractions import Fraction

import av

from vcam.errors import MediaError

ENCODER_RATES = {"libopus": 48000}
"""Encoders that take only some sample rates; the others keep the input's."""


class AudioPassage:
    """One input sound stream's way into an output container."""

    def __init__(self, container: av.container.OutputContainer, source: av.AudioStream,
                 holds: frozenset[str] | None, encoder: str, suffix: str) -> None:
        self._container = container
        codec = source.codec_context.name if source.codec_context is not None else "unknown"
        self.copied = holds is None or codec in holds
        self.note = ""
        if self.copied:
            self._out = container.add_stream_from_template(source)
            return
        if source.codec_context is None or not source.codec_context.codec.is_decoder:
            raise MediaError(f"{source.container.name}: its sound ({codec}) cannot go into a {suffix} file and cannot be decoded to convert it;"
                             " write .mkv, which holds any sound")
        rate = ENCODER_RATES.get(encoder, source.codec_context.sample_rate or 48000)
        self._out = container.add_stream(encoder, rate=rate)
        self._out.layout = "stereo" if source.codec_context.layout.nb_channels >= 2 else "mono"
        self._resampler = av.AudioResampler(format=self._out.codec_context.codec.audio_formats[0].name,
                                            layout=self._out.layout, rate=rate)
        self._time_base = Fraction(1, rate)
        self._samples = 0
        self.note = f"sound converted from {codec} to {self._out.codec_context.name} ({suffix} cannot hold {codec})"

    def carry(self, packet: av.Packet) -> None:
        if self.copied:
            packet.stream = self._out
            self._container.mux(packet)
            return
        try:
            frames = packet.decode()
        except av.FFmpegError:
            return  # a damaged sound packet: a moment of silence, as a player would give
        for frame in frames:
            self._encode(self._resampler.resample(frame))

    def _encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            frame.pts, frame.time_base = self._samples, self._time_base
            self._samples += frame.samples
            self._container.mux(self._out.encode(frame))

    def finish(self) -> None:
        if not self.copied:
            self._encode(self._resampler.resample(None))
            self._container.mux(self._out.encode(None))
