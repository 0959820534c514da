using System.Globalization;
using Aletheia.Wal.Tests.Support;
using Aletheia.Wal.Worker;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Reading;

/// <summary>
/// Readers that follow a log being written for 20 s by four threads, while the segments the reader is done with are
/// truncated: in this process (<see cref="WriteAheadLog.ReadFrom"/>) and from another one (<see cref="WalReader.Follow"/>).
/// Every LSN is seen exactly once, in order, byte-exact, every writer's records all and in its order, with no exception.
/// </summary>
public sealed class LiveTailTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(20);

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_live_reader_sees_every_record_once_in_order_under_four_writers_and_truncation()
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(TailWrite.Options(directory));
        long[] counts = new long[TailWrite.Writers];
        long readUpTo = 0;
        int segmentsRemoved = 0;
        using var stop = new CancellationTokenSource(Duration);
        var threads = new List<Thread>();
        for (int w = 0; w < TailWrite.Writers; w++)
        {
            int writer = w;
            threads.Add(new Thread(() =>
            {
                for (long sequence = 0; !stop.IsCancellationRequested; sequence++)
                {
                    byte[] payload = TailWrite.Payload(writer, sequence);
                    Lsn lsn = sequence % 8 == 7 ? log.AppendDurable(payload) : log.Append(payload);
                    Volatile.Write(ref counts[writer], sequence + 1);
                }
            }));
        }

        threads.Add(new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                Thread.Sleep(200);
                long read = Volatile.Read(ref readUpTo);
                if (read > 1000)
                {
                    segmentsRemoved += log.TruncateBefore(new Lsn((ulong)read - 1000)).SegmentsRemoved;
                }
            }
        }));
        threads.ForEach(t => t.Start());

        var check = new TailCheck(first: 1);
        Lsn final = Lsn.None;
        await using (WalReader reader = log.ReadFrom(Lsn.None))
        {
            var deadline = DateTime.UtcNow + Duration + TimeSpan.FromSeconds(60);
            while (final == Lsn.None || check.Next <= final.Value)
            {
                Assert.True(DateTime.UtcNow < deadline, $"The reader is at LSN {check.Next}; the log ends at {final}.");
                while (reader.TryRead(out WalRecord record))
                {
                    check.Record(record.Lsn, record.Payload);
                }

                Volatile.Write(ref readUpTo, (long)check.Next - 1);
                if (final == Lsn.None && threads.TrueForAll(t => !t.IsAlive))
                {
                    log.Flush();
                    final = log.LastLsn;
                    continue;
                }

                using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
                try
                {
                    Assert.True(await reader.WaitToReadAsync(wait.Token), "The log is not disposed: a wait ends with true or a cancellation.");
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        check.AssertComplete(final, counts);
        output.WriteLine($"{final} records read live; {segmentsRemoved} segments truncated under the reader; writers: {string.Join(", ", counts)}");
        Assert.True(segmentsRemoved >= 10, $"Only {segmentsRemoved} segments were truncated while the reader read.");
    }

    [Fact]
    public async Task A_follow_reader_in_another_process_sees_every_record_once_in_order_under_four_writers_and_truncation()
    {
        string directory = _temp.Log();
        string positionFile = Path.Combine(_temp.Log("position"), "read");
        Directory.CreateDirectory(Path.GetDirectoryName(positionFile)!);
        using System.Diagnostics.Process worker = WorkerProcess.Start("tail-write", directory, positionFile, ((int)Duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        Assert.Equal("open", WorkerProcess.ReadLine(worker));
        Task<string?> done = worker.StandardOutput.ReadLineAsync();
        var check = new TailCheck(first: 1);
        Lsn final = Lsn.None;
        long[] counts = [];
        int polls = 0;
        using (WalReader reader = WalReader.Follow(directory))
        {
            var deadline = DateTime.UtcNow + Duration + TimeSpan.FromSeconds(60);
            while (final == Lsn.None || check.Next <= final.Value)
            {
                Assert.True(DateTime.UtcNow < deadline, $"The reader is at LSN {check.Next}; the log ends at {final}.");
                while (reader.TryRead(out WalRecord record))
                {
                    check.Record(record.Lsn, record.Payload);
                }

                string temporary = positionFile + ".tmp";
                File.WriteAllText(temporary, (check.Next - 1).ToString(CultureInfo.InvariantCulture));
                File.Move(temporary, positionFile, overwrite: true);
                if (final == Lsn.None && done.IsCompleted)
                {
                    string[] words = (await done ?? throw new InvalidOperationException("The worker exited without its summary.")).Split(' ');
                    Assert.Equal("done", words[0]);
                    final = new Lsn(ulong.Parse(words[1], CultureInfo.InvariantCulture));
                    counts = words[2..].Select(word => long.Parse(word, CultureInfo.InvariantCulture)).ToArray();
                    continue;
                }

                reader.WaitToRead(TimeSpan.FromMilliseconds(100));
                polls++;
            }
        }

        Assert.True(worker.WaitForExit(30_000));
        Assert.Equal(0, worker.ExitCode);
        check.AssertComplete(final, counts);
        output.WriteLine($"{final} records followed from another process in {polls} waits; writers: {string.Join(", ", counts)}; segments left: {Directory.GetFiles(directory, "*.wal").Length}");
        Assert.True(Directory.GetFiles(directory, "*.wal").Length < 10, "The writer truncated the segments the reader was done with.");
    }

    /// <summary>Holds a reader's output to the rule: the next LSN, a tagged record intact, each writer's next sequence.</summary>
    private sealed class TailCheck(ulong first)
    {
        private readonly long[] _next = new long[TailWrite.Writers];

        public ulong Next { get; private set; } = first;

        public void Record(Lsn lsn, ReadOnlySpan<byte> payload)
        {
            if (lsn.Value != Next)
            {
                Assert.Fail($"The reader returned LSN {lsn} where LSN {Next} must follow.");
            }

            if (!TailWrite.Intact(payload, out int writer, out long sequence))
            {
                Assert.Fail($"Record {lsn} is not byte-exact ({payload.Length} bytes).");
            }

            if (sequence != _next[writer])
            {
                Assert.Fail($"Record {lsn} is writer {writer}'s record {sequence}; its record {_next[writer]} must come first.");
            }

            _next[writer]++;
            Next++;
        }

        public void AssertComplete(Lsn last, long[] counts)
        {
            Assert.Equal(last.Value + 1, Next);
            Assert.Equal(counts, _next);
        }
    }
}
