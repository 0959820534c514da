using System.Diagnostics;
using HdrHistogram;
using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// The reference: what the same disk does without the log, measured in the same run. One thread writes with
/// <see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/> on a <see cref="FileOptions.WriteThrough"/>
/// handle into a preallocated file of real zeros (so no write extends it or changes its metadata, as the log's segments),
/// going round the file: first 1 MiB writes (the disk's write-through bandwidth), then 4 KiB writes (the latency of the
/// smallest write a durable append makes: the floor of one at 1 thread). Each series runs for half the duration.
/// </summary>
internal static class RawWriteThrough
{
    public const string FileName = "bench-raw-writethrough.tmp";

    public const int LargeWriteBytes = 1 << 20;

    public const int SmallWriteBytes = 4 << 10;

    private const long FileBytes = 64L << 20;

    public static (RawResult Large, RawResult Small) Run(string directory, TimeSpan duration, TourPacer pacer)
    {
        string path = Path.Combine(directory, FileName);

        // CreateNew: a file of that name that is not ours is never overwritten, nor deleted.
        SafeFileHandle file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.WriteThrough);
        try
        {
            ZeroFill(file, pacer.Token);
            RawResult large = Series(file, LargeWriteBytes, duration / 2, pacer);
            RawResult small = pacer.Cancelled ? new RawResult(SmallWriteBytes, 0, 0, null) : Series(file, SmallWriteBytes, duration / 2, pacer);
            return (large, small);
        }
        finally
        {
            file.Dispose();
            File.Delete(path);
        }
    }

    private static RawResult Series(SafeFileHandle file, int writeBytes, TimeSpan duration, TourPacer pacer)
    {
        byte[] buffer = new byte[writeBytes];
        Random.Shared.NextBytes(buffer);
        LongHistogram histogram = Latency.ForOneThread();
        long writes = 0;
        long lastReturn = 0;

        // On a thread of its own, as the log's appenders, while the driver thread keeps the progress line.
        using var crew = new ThreadCrew(1);
        long started = crew.Start("bench-raw", index =>
        {
            crew.WaitForStart(index);
            long offset = 0;
            while (!crew.StopRequested)
            {
                long called = Stopwatch.GetTimestamp();
                RandomAccess.Write(file, buffer, offset);
                lastReturn = Stopwatch.GetTimestamp();
                Latency.Record(histogram, lastReturn - called);
                writes++;
                offset = (offset + writeBytes) % FileBytes;
            }
        });

        pacer.Wait(started, duration, crew.Ended);
        crew.Stop();
        crew.Join();
        return new RawResult(writeBytes, writes, writes > 0 ? Stopwatch.GetElapsedTime(started, lastReturn).TotalSeconds : 0, Latency.Summarize(histogram));
    }

    /// <summary>
    /// Writes <see cref="FileBytes"/> of real zeros into the new file, not a sparse extension, and flushes them to disk:
    /// later writes overwrite allocated blocks and never change the file's size or extents.
    /// </summary>
    private static void ZeroFill(SafeFileHandle file, CancellationToken token)
    {
        byte[] zeros = new byte[LargeWriteBytes];
        for (long offset = 0; offset < FileBytes && !token.IsCancellationRequested; offset += zeros.Length)
        {
            RandomAccess.Write(file, zeros, offset);
        }

        RandomAccess.FlushToDisk(file);
    }
}
