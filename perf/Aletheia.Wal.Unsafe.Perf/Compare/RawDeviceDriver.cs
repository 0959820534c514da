using System.Diagnostics;
using Aletheia.Wal.Perf.Load;
using HdrHistogram;
using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>
/// The reference of the ratios: one thread writing <c>writeBytes</c> at a time with <see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/>
/// on a <see cref="FileOptions.WriteThrough"/> handle into a zero-filled preallocated file, sequentially, wrapping at its end,
/// so no write extends the file. Each write's latency goes to an HdrHistogram.
/// </summary>
internal static class RawDeviceDriver
{
    public static Measured Run(string directory, int writeBytes, long fileBytes, TimeSpan warmup, TimeSpan duration)
    {
        using SafeFileHandle file = ZeroFilledFile.Create(Path.Combine(directory, "raw.dat"), fileBytes);
        byte[] buffer = new byte[writeBytes];
        Random.Shared.NextBytes(buffer);
        var histogram = new LongHistogram(Stopwatch.Frequency * 60, 3);
        long offset = 0;
        void WriteFor(TimeSpan span, bool record, ref long count)
        {
            long end = Stopwatch.GetTimestamp() + (long)(span.TotalSeconds * Stopwatch.Frequency);
            long now = Stopwatch.GetTimestamp();
            while (now < end)
            {
                if (offset + writeBytes > fileBytes)
                {
                    offset = 0;
                }

                RandomAccess.Write(file, buffer, offset);
                offset += writeBytes;
                long after = Stopwatch.GetTimestamp();
                if (record)
                {
                    histogram.RecordValue(after - now);
                    count++;
                }

                now = after;
            }
        }

        long ignored = 0;
        WriteFor(warmup, record: false, ref ignored);
        long writes = 0;
        long started = Stopwatch.GetTimestamp();
        WriteFor(duration, record: true, ref writes);
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double micros = 1_000_000.0 / Stopwatch.Frequency;
        return new Measured(
            writes / seconds,
            writes * (double)writeBytes / seconds / 1e6,
            histogram.GetValueAtPercentile(50) * micros,
            histogram.GetValueAtPercentile(99) * micros,
            null,
            writes,
            seconds,
            $"{writeBytes:N0} B per write, {fileBytes / (1024 * 1024):N0} MiB zero-filled file");
    }
}
