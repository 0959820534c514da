using System.Text.RegularExpressions;
using Aletheia.Wal.Perf.Compare;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Perf;

/// <summary>The compare driver's <c>raw-prepared</c> reference: write-through writes into new files zero-filled one ahead.</summary>
public sealed partial class RawPreparedTests
{
    private const int WriteBytes = 256 * 1024;
    private const long FileBytes = 1024 * 1024;

    [Fact]
    public void Writes_move_through_files_zero_filled_ahead_and_each_full_one_is_deleted()
    {
        using var directory = new TempDirectory();

        Measured measured = RawDeviceDriver.Run(
            directory.Path, WriteBytes, FileBytes, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250), prepared: true);

        // "into N new file(s)": files 0 to N-1 took writes, file N was being prepared when the run ended.
        Match match = FilesWritten().Match(measured.Note!);
        Assert.True(match.Success, measured.Note);
        int written = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(written >= 3, $"The run should have moved through several files of {FileBytes} bytes: {measured.Note}");
        Assert.True(measured.Records > 0);

        // Every full file was deleted once the writer moved on: left are the last one written and the one prepared after it.
        string[] left = Directory.GetFiles(directory.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(new[] { $"raw-{written - 1}.dat", $"raw-{written}.dat" }.Order(StringComparer.Ordinal), left);

        // The prepared one is real zeros, all of it.
        byte[] prepared = File.ReadAllBytes(Path.Combine(directory.Path, $"raw-{written}.dat"));
        Assert.Equal(FileBytes, prepared.LongLength);
        Assert.True(prepared.AsSpan().IndexOfAnyExcept((byte)0) < 0, "The file prepared ahead holds something other than zeros.");

        // The last one written: its first write is the driver's buffer, and every later write slot is that same buffer or,
        // past the last write, the zeros it was prepared with.
        byte[] last = File.ReadAllBytes(Path.Combine(directory.Path, $"raw-{written - 1}.dat"));
        Assert.Equal(FileBytes, last.LongLength);
        ReadOnlySpan<byte> first = last.AsSpan(0, WriteBytes);
        Assert.True(first.IndexOfAnyExcept((byte)0) >= 0, "The first write slot of the last file written holds no data.");
        bool zerosSeen = false;
        for (int slot = 1; slot < FileBytes / WriteBytes; slot++)
        {
            ReadOnlySpan<byte> chunk = last.AsSpan(slot * WriteBytes, WriteBytes);
            if (chunk.IndexOfAnyExcept((byte)0) < 0)
            {
                zerosSeen = true;
                continue;
            }

            Assert.False(zerosSeen, $"Write slot {slot} holds data after a slot of zeros.");
            Assert.True(chunk.SequenceEqual(first), $"Write slot {slot} is not the driver's buffer.");
        }
    }

    [GeneratedRegex(@"into (\d+) new file\(s\) of 1 MiB, each zero-filled while the one before it was written")]
    private static partial Regex FilesWritten();
}
