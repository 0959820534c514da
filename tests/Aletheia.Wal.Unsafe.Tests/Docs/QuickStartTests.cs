using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Docs;

/// <summary>
/// The README's quick start is samples/QuickStart/Program.cs, word for word: it compiles with the solution, and here it
/// runs as a program on a fresh directory and prints exactly what the README says it prints.
/// </summary>
public sealed class QuickStartTests
{
    private static readonly string[] ExpectedOutput =
    [
        "appended 1..6, durable up to 6",
        "1: put a=1",
        "2: put b=2",
        "3: put c=3",
        "4: put d=4",
        "5: put e=5",
        "6: put f=6",
        "after TruncateAfter(5): 6 is 'put f=60'",
        "TruncateBefore(2): 0 segments removed, oldest kept 1",
        "7 records written, durable lag 0",
        "reopened: 1..6, recovery dropped nothing",
    ];

    [Fact]
    public async Task The_quick_start_runs_and_prints_what_the_readme_shows()
    {
        using var temp = new TempDirectory();
        (int exitCode, string output) = await Repository.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "QuickStart.dll"), temp.Log()], seconds: 60);
        Assert.Equal(0, exitCode);
        Assert.Equal(ExpectedOutput, output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(string.Join('\n', ExpectedOutput), Normalize(File.ReadAllText(Repository.File("README.md"))));
    }

    [Fact]
    public void The_readme_shows_the_quick_start_file_word_for_word()
    {
        string code = Normalize(File.ReadAllText(Repository.File("samples", "QuickStart", "Program.cs"))).TrimEnd();
        string readme = Normalize(File.ReadAllText(Repository.File("README.md")));
        Assert.Contains("```csharp\n" + code + "\n```", readme);
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");
}
