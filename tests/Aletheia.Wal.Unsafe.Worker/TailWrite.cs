using System.Buffers.Binary;
using System.Globalization;

namespace Aletheia.Wal.Worker;

/// <summary>
/// The writer side of the test that tails a log from another process: opens the log, prints "open", then four threads
/// append tagged records (<see cref="Payload"/>; every eighth one durably) for the given time, while a fifth truncates,
/// every 200 ms, the segments below the position the reader publishes in POSFILE (the LSN it has read up to, as text).
/// Then it flushes and prints "done LASTLSN COUNT0 COUNT1 COUNT2 COUNT3" (the records each writer appended) and exits.
/// </summary>
public static class TailWrite
{
    public const int Writers = 4;

    /// <summary>The options both sides use: small segments, so that the reader crosses many rotations and truncations.</summary>
    public static WalOptions Options(string directory) =>
        new() { Directory = directory, SegmentSizeBytes = 256 * 1024, StripeCount = 4, MaxEntryBytes = 4096, MaxRecycledSegments = 2 };

    /// <summary>Record <paramref name="sequence"/> of writer <paramref name="writer"/>: the tag (4 + 8 bytes) and bytes derived from it.</summary>
    public static byte[] Payload(int writer, long sequence)
    {
        byte[] payload = new byte[16 + (int)((sequence * 7 + writer) % 500)];
        Fill(payload, writer, sequence);
        return payload;
    }

    /// <summary>Whether <paramref name="payload"/> is exactly the record its tag names.</summary>
    public static bool Intact(ReadOnlySpan<byte> payload, out int writer, out long sequence)
    {
        writer = payload.Length >= 12 ? BinaryPrimitives.ReadInt32LittleEndian(payload) : -1;
        sequence = payload.Length >= 12 ? BinaryPrimitives.ReadInt64LittleEndian(payload[4..]) : -1;
        if (writer is < 0 or >= Writers || sequence < 0 || payload.Length != 16 + (int)((sequence * 7 + writer) % 500))
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[payload.Length];
        Fill(expected, writer, sequence);
        return payload.SequenceEqual(expected);
    }

    public static int Run(string directory, string positionFile, int milliseconds)
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory));
        Console.WriteLine("open");
        long[] counts = new long[Writers];
        using var stop = new CancellationTokenSource(milliseconds);
        var threads = new List<Thread>();
        for (int w = 0; w < Writers; w++)
        {
            int writer = w;
            threads.Add(new Thread(() =>
            {
                for (long sequence = 0; !stop.IsCancellationRequested; sequence++)
                {
                    byte[] payload = Payload(writer, sequence);
                    if (sequence % 8 == 7)
                    {
                        log.AppendDurable(payload);
                    }
                    else
                    {
                        log.Append(payload);
                    }

                    counts[writer] = sequence + 1;
                }
            }));
        }

        threads.Add(new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                Thread.Sleep(200);
                if (ReadPosition(positionFile) is ulong read and > 1000)
                {
                    log.TruncateBefore(new Lsn(read - 1000));
                }
            }
        }));
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        log.Flush();
        Console.WriteLine($"done {log.LastLsn} {string.Join(' ', counts)}");
        return 0;
    }

    private static ulong? ReadPosition(string path)
    {
        try
        {
            return ulong.TryParse(File.ReadAllText(path), NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) ? value : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void Fill(Span<byte> destination, int writer, long sequence)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, writer);
        BinaryPrimitives.WriteInt64LittleEndian(destination[4..], sequence);
        ulong state = ((ulong)sequence * 0x9E3779B97F4A7C15UL) ^ (uint)writer;
        for (int i = 12; i < destination.Length; i++)
        {
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            destination[i] = (byte)(state >> 56);
        }
    }
}
