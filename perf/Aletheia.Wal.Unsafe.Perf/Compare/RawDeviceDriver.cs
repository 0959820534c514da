using System.Diagnostics;
using Aletheia.Wal.Perf.Load;
using HdrHistogram;
using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>
/// The reference of the ratios: one thread writing <c>writeBytes</c> at a time with <see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/>
/// on a <see cref="FileOptions.WriteThrough"/> handle into a zero-filled preallocated file, sequentially, wrapping at its end,
/// so no write extends the file. Each write's latency goes to an HdrHistogram. With <c>fresh</c>, into new space instead:
/// a new file extended sparse to <c>fileBytes</c> (its holes read as zeros, no block allocated), each write allocating the
/// blocks it fills, and a new such file after it is full: the bandwidth of space never written before, which is what
/// a new log's burst writes into (a segment prepared sparse during a burst is such a file). With <c>prepared</c>, what a new
/// log that zero-fills its segments ahead must write: files of <c>fileBytes</c> (a segment), each zero-filled by another
/// thread while the one before it takes the writes (direct writes of 1 MiB, then fsync, as the log prepares a segment),
/// the writer moving to the next once it is full (waiting for its zeros if they are not all written yet), the full one
/// deleted. Every byte is written twice, zeros then data: the device's ceiling for a burst into a new write-through log.
/// </summary>
internal static class RawDeviceDriver
{
    public static Measured Run(string directory, int writeBytes, long fileBytes, TimeSpan warmup, TimeSpan duration, bool fresh = false, bool prepared = false)
    {
        int files = 0;
        Task<SafeFileHandle>? preparing = null;
        SafeFileHandle Prepare(int number)
        {
            string path = Path.Combine(directory, $"raw-{number}.dat");
            SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.WriteThrough);
            RandomAccess.SetLength(handle, fileBytes);
            if (!Storage.FileWalStorage.TryWriteZerosDirect(path, 0, fileBytes))
            {
                handle.Dispose();
                File.Delete(path);
                return ZeroFilledFile.Create(path, fileBytes); // no O_DIRECT here: zeros through the page cache
            }

            RandomAccess.FlushToDisk(handle);
            return handle;
        }

        SafeFileHandle Next()
        {
            if (prepared)
            {
                SafeFileHandle current = preparing?.GetAwaiter().GetResult() ?? Prepare(files++);
                int number = files++;
                preparing = Task.Factory.StartNew(() => Prepare(number), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                if (number >= 2)
                {
                    File.Delete(Path.Combine(directory, $"raw-{number - 2}.dat")); // the one just filled, closed by the caller
                }

                return current;
            }

            if (!fresh)
            {
                return ZeroFilledFile.Create(Path.Combine(directory, "raw.dat"), fileBytes);
            }

            SafeFileHandle handle = File.OpenHandle(
                Path.Combine(directory, $"raw-{files++}.dat"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.WriteThrough);
            RandomAccess.SetLength(handle, fileBytes);
            RandomAccess.FlushToDisk(handle);
            return handle;
        }

        SafeFileHandle file = Next();
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
                    if (fresh || prepared)
                    {
                        file.Dispose();
                        file = Next();
                    }
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
        file.Dispose();
        preparing?.GetAwaiter().GetResult().Dispose();
        double micros = 1_000_000.0 / Stopwatch.Frequency;
        return new Measured(
            writes / seconds,
            writes * (double)writeBytes / seconds / 1e6,
            histogram.GetValueAtPercentile(50) * micros,
            histogram.GetValueAtPercentile(99) * micros,
            null,
            writes,
            seconds,
            prepared ? $"{writeBytes:N0} B per write, into {files - 1:N0} new file(s) of {fileBytes / (1024 * 1024):N0} MiB, each zero-filled while the one before it was written"
            : fresh ? $"{writeBytes:N0} B per write, into {files:N0} new sparse file(s) of {fileBytes / (1024 * 1024):N0} MiB"
            : $"{writeBytes:N0} B per write, {fileBytes / (1024 * 1024):N0} MiB zero-filled file");
    }
}
